package broker

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
)

// Conditional writes, as AWS S3 does them (If-None-Match since Aug 2024,
// If-Match since Nov 2024) on PutObject, CopyObject (destination) and
// CompleteMultipartUpload, and conditional deletes (If-Match on
// DeleteObject; an ETag or "*"):
//
//   - If-None-Match: * writes only if no object exists under the key, else
//     412 PreconditionFailed. Any other If-None-Match value is answered 501
//     NotImplemented, as AWS answers it (aws/aws-sdk-ruby#3144).
//   - If-Match: ETAG writes only if the current object's ETag is ETAG, else
//     412; with no object under the key, 404 NoSuchKey.
//   - Both headers at once: 501 NotImplemented.
//   - A conditional write to a key another write is still busy with gets 409
//     ConditionalRequestConflict; AWS asks clients to retry it.
//
// gofakes3 v1.2.0 checks PutObject's conditions itself but ignores them on
// CopyObject, CompleteMultipartUpload and DeleteObject, so every object
// write here takes a per-key lock and the conditions are evaluated under
// it, once, for all four calls: the check and the write (or delete) are one
// atomic step with respect to every other write to that key (DeleteObjects
// takes all keys). If-None-Match on DeleteObject is ignored, as before;
// DeleteObjects' per-object ETags are not checked.

// writeKind says what a request writes.
type writeKind int

const (
	writeNone     writeKind = iota // reads, part uploads, bucket calls
	writeObject                    // PutObject or CopyObject
	writeComplete                  // CompleteMultipartUpload
	writeDelete                    // DeleteObject
	writeMulti                     // DeleteObjects (POST ?delete)
)

// writeTarget classifies r by the object it writes (path-style addressing).
func writeTarget(r *http.Request) (bucket, key string, kind writeKind) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	q := r.URL.Query()
	if key == "" {
		if _, ok := q["delete"]; ok && r.Method == http.MethodPost {
			return bucket, "", writeMulti
		}
		return bucket, "", writeNone
	}
	if _, ok := q["uploads"]; ok {
		return bucket, key, writeNone
	}
	uploadID := q.Get("uploadId")
	switch {
	case r.Method == http.MethodPut && uploadID == "":
		return bucket, key, writeObject
	case r.Method == http.MethodPost && uploadID != "":
		return bucket, key, writeComplete
	case r.Method == http.MethodDelete && uploadID == "":
		return bucket, key, writeDelete
	}
	return bucket, key, writeNone
}

// keyLocks serializes writes per object key.
type keyLocks struct {
	all  sync.RWMutex // single-key writes hold it shared, DeleteObjects exclusively
	mu   sync.Mutex
	held map[string]*keyLock
}

type keyLock struct {
	sem  chan struct{} // capacity 1: holding the token is holding the lock
	refs int
}

// lock takes key's lock. With try set it does not wait: ok is false when
// another write holds the key. Without try it waits until the lock is free
// or ctx ends (ok false).
func (l *keyLocks) lock(ctx context.Context, key string, try bool) (unlock func(), ok bool) {
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*keyLock{}
	}
	kl := l.held[key]
	if kl == nil {
		kl = &keyLock{sem: make(chan struct{}, 1)}
		l.held[key] = kl
	}
	kl.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if kl.refs--; kl.refs == 0 {
			delete(l.held, key)
		}
		l.mu.Unlock()
	}
	if try {
		select {
		case kl.sem <- struct{}{}:
		default:
			release()
			return nil, false
		}
	} else {
		select {
		case kl.sem <- struct{}{}:
		case <-ctx.Done():
			release()
			return nil, false
		}
	}
	return func() { <-kl.sem; release() }, true
}

// serveWrite passes r to gofakes3, holding the lock of the key it writes and
// enforcing conditional-write headers under that lock.
func (s *s3Server) serveWrite(w http.ResponseWriter, r *http.Request) {
	bucket, key, kind := writeTarget(r)
	switch kind {
	case writeNone:
		s.next.ServeHTTP(w, r)
		return
	case writeMulti:
		s.locks.all.Lock()
		defer s.locks.all.Unlock()
		s.next.ServeHTTP(w, r)
		return
	}
	_, hasNone := r.Header["If-None-Match"]
	_, hasMatch := r.Header["If-Match"]
	if kind == writeDelete && hasNone {
		// Not a DeleteObject condition: ignored, as gofakes3 always did.
		r.Header.Del("If-None-Match")
		hasNone = false
	}
	conditional := hasNone || hasMatch
	if conditional {
		switch {
		case hasNone && hasMatch:
			writeS3ErrorDetail(w, r, http.StatusNotImplemented, "NotImplemented",
				"A header you provided implies functionality that is not implemented", "Header", "If-Match")
			return
		case hasNone && strings.TrimSpace(r.Header.Get("If-None-Match")) != "*":
			// AWS accepts only "*" here; an ETag list is not implemented.
			writeS3ErrorDetail(w, r, http.StatusNotImplemented, "NotImplemented",
				"A header you provided implies functionality that is not implemented", "Header", "If-None-Match")
			return
		}
	}

	s.locks.all.RLock()
	defer s.locks.all.RUnlock()
	unlock, ok := s.locks.lock(r.Context(), bucket+"/"+key, conditional)
	if !ok {
		if r.Context().Err() != nil {
			return
		}
		writeS3Error(w, r, http.StatusConflict, "ConditionalRequestConflict",
			"A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.")
		return
	}
	defer unlock()

	if conditional {
		obj, err := s.backend.HeadObject(bucket, key)
		if obj != nil && obj.Contents != nil {
			obj.Contents.Close()
		}
		exists := err == nil
		if err != nil && !gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey) {
			// No such bucket and the like: gofakes3 answers those itself.
			r.Header.Del("If-None-Match")
			r.Header.Del("If-Match")
			s.next.ServeHTTP(w, r)
			return
		}
		switch {
		case hasNone && exists:
			writeS3ErrorDetail(w, r, http.StatusPreconditionFailed, "PreconditionFailed",
				"At least one of the pre-conditions you specified did not hold", "Condition", "If-None-Match")
			return
		case hasMatch && !exists:
			writeS3Error(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		case hasMatch && !etagMatches(r.Header.Get("If-Match"), hex.EncodeToString(obj.Hash)):
			writeS3ErrorDetail(w, r, http.StatusPreconditionFailed, "PreconditionFailed",
				"At least one of the pre-conditions you specified did not hold", "Condition", "If-Match")
			return
		}
		// Checked here, under the lock; gofakes3 must not check again
		// (it ignores them on copy, complete and delete anyway).
		r.Header.Del("If-None-Match")
		r.Header.Del("If-Match")
	}
	if kind == writeComplete {
		s.completeMultipart(w, r, bucket, key)
		return
	}
	s.next.ServeHTTP(w, r)
}

// etagMatches compares an If-Match value ("*", an ETag, or a list of them,
// quoted or not) with an object's hex MD5.
func etagMatches(header, hexHash string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.Trim(v, `"`) == hexHash {
			return true
		}
	}
	return false
}

var etagElem = regexp.MustCompile(`<ETag>[^<]*</ETag>`)

// completeMultipart runs CompleteMultipartUpload and answers with the ETag
// the stored object really has. gofakes3 answers with AWS's
// "md5-of-part-md5s-N" form but stores (and reports on HEAD, GET and
// If-Match) the MD5 of the whole content; one ETag per object keeps
// If-Match with the ETag from the completion working.
func (s *s3Server) completeMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	s.next.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	if rec.status == http.StatusOK {
		if obj, err := s.backend.HeadObject(bucket, key); err == nil {
			if obj.Contents != nil {
				obj.Contents.Close()
			}
			etag := gofakes3.FormatETag(obj.Hash)
			body = etagElem.ReplaceAll(body, []byte("<ETag>"+strings.ReplaceAll(etag, `"`, "&#34;")+"</ETag>"))
			rec.header.Set("ETag", etag)
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	w.Write(body)
}

// bufferedResponse collects a handler's answer so it can be edited.
type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
