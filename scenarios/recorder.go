package scenarios

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/program"
)

// The recorder sees every S3 write a consumer makes (through the scenario's
// S3 proxies) and every OffsetCommit its group sends (through the broker),
// with the time each happened. The verdict uses them to say which process
// wrote each object, which objects were overwritten (every version is kept)
// and which commits covered records that were not in S3 yet.

// s3Write is one write that S3 accepted (2xx).
type s3Write struct {
	At       time.Time `json:"at"`
	Op       string    `json:"op"` // put, copy, multipart, delete
	Key      string    `json:"key"`
	Instance int       `json:"instance"` // -1: not a consumer instance's credentials
	Size     int       `json:"size"`
	body     []byte    // put, copy, multipart: the object as written
}

// commitSeen is one partition's offset in an OffsetCommit of the group.
type commitSeen struct {
	At        time.Time `json:"at"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Member    string    `json:"member"`
}

type recorder struct {
	bucket string
	fetch  func(ctx context.Context, key string) ([]byte, error) // the object as S3 holds it now

	mu      sync.Mutex
	writes  []s3Write
	commits []commitSeen
	last    time.Time // the last write S3 accepted
	// onWrite, when set, is called with each accepted write before the
	// writer gets S3's answer: a scenario can kill the writer right there.
	onWrite func(s3Write)
}

func newRecorder(bucket string, fetch func(context.Context, string) ([]byte, error)) *recorder {
	return &recorder{bucket: bucket, fetch: fetch}
}

// setOnWrite installs (nil: removes) the write hook.
func (r *recorder) setOnWrite(fn func(s3Write)) {
	r.mu.Lock()
	r.onWrite = fn
	r.mu.Unlock()
}

// lastWrite is when S3 last accepted a write (zero: never).
func (r *recorder) lastWrite() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// committed reports whether the group has committed any offset.
func (r *recorder) committed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.commits) > 0
}

// commitsSince counts the partition commits seen since t that cover
// records (offset > 0: kafka-python's first auto-commit may commit the
// starting positions, 0, before it has read anything).
func (r *recorder) commitsSince(t time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.commits {
		if !c.At.Before(t) && c.Offset > 0 {
			n++
		}
	}
	return n
}

// writesBy counts the writes S3 accepted from instance since t.
func (r *recorder) writesBy(instance int, t time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, w := range r.writes {
		if w.Instance == instance && !w.At.Before(t) {
			n++
		}
	}
	return n
}

// snapshot returns copies of what was recorded.
func (r *recorder) snapshot() ([]s3Write, []commitSeen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]s3Write(nil), r.writes...), append([]commitSeen(nil), r.commits...)
}

// observe records req if it was a write S3 accepted; body is the request's
// body as the proxy read it.
func (r *recorder) observe(req *http.Request, body []byte, status int) {
	if status/100 != 2 {
		return
	}
	key, ok := r.objectKey(req.URL.Path)
	q := req.URL.Query()
	var ws []s3Write
	switch {
	case req.Method == http.MethodPut && ok && q.Get("partNumber") == "" && req.Header.Get("x-amz-copy-source") == "":
		ws = append(ws, s3Write{Op: "put", Key: key, body: body})
	case req.Method == http.MethodPut && ok && q.Get("partNumber") == "":
		ws = append(ws, s3Write{Op: "copy", Key: key})
	case req.Method == http.MethodPost && ok && q.Has("uploadId"):
		ws = append(ws, s3Write{Op: "multipart", Key: key})
	case req.Method == http.MethodDelete && ok && !q.Has("uploadId"):
		ws = append(ws, s3Write{Op: "delete", Key: key})
	case req.Method == http.MethodPost && q.Has("delete"):
		var d struct {
			Objects []struct {
				Key string `xml:"Key"`
			} `xml:"Object"`
		}
		if xml.Unmarshal(body, &d) == nil {
			for _, o := range d.Objects {
				ws = append(ws, s3Write{Op: "delete", Key: o.Key})
			}
		}
	}
	if len(ws) == 0 {
		return
	}
	inst := program.InstanceOf(accessKey(req))
	now := time.Now()
	for i := range ws {
		w := &ws[i]
		w.At, w.Instance = now, inst
		if w.Op == "copy" || w.Op == "multipart" || (w.Op == "put" && streamed(req)) {
			// The object's content came from elsewhere, or in aws-chunked
			// framing: read it as S3 holds it now.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			b, err := r.fetch(ctx, w.Key)
			cancel()
			if err == nil {
				w.body = b
			}
		}
		w.Size = len(w.body)
	}
	r.mu.Lock()
	r.writes = append(r.writes, ws...)
	r.last = now
	hook := r.onWrite
	r.mu.Unlock()
	if hook != nil {
		for _, w := range ws {
			hook(w)
		}
	}
}

// streamed reports a body in aws-chunked framing (signed streaming or
// trailing checksums), which is not the object's content as sent.
func streamed(req *http.Request) bool {
	return strings.Contains(req.Header.Get("Content-Encoding"), "aws-chunked") ||
		strings.HasPrefix(req.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") ||
		req.Header.Get("X-Amz-Decoded-Content-Length") != ""
}

// objectKey is the object key of a path-style request path (/bucket/key).
func (r *recorder) objectKey(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/"+r.bucket+"/")
	if !ok || rest == "" {
		return "", false
	}
	return rest, true
}

// accessKey is the access key a request was signed with: the Authorization
// header's Credential=, or a presigned URL's X-Amz-Credential.
func accessKey(req *http.Request) string {
	cred := ""
	if a := req.Header.Get("Authorization"); a != "" {
		if _, after, ok := strings.Cut(a, "Credential="); ok {
			cred = after
		}
	} else if c := req.URL.Query().Get("X-Amz-Credential"); c != "" {
		cred, _ = url.QueryUnescape(c)
		if cred == "" {
			cred = c
		}
	}
	ak, _, _ := strings.Cut(cred, "/")
	return ak
}

// watchCommits records the OffsetCommits of group for topic (by name, or
// by ID from v10 on).
func (r *recorder) watchCommits(req kmsg.Request, group, topic string, topicID [16]byte) {
	oc, ok := req.(*kmsg.OffsetCommitRequest)
	if !ok || oc.Group != group {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range oc.Topics {
		if t.Topic != topic && (t.TopicID == [16]byte{} || t.TopicID != topicID) {
			continue
		}
		for _, p := range t.Partitions {
			r.commits = append(r.commits, commitSeen{At: now, Partition: p.Partition, Offset: p.Offset, Member: oc.MemberID})
		}
	}
}
