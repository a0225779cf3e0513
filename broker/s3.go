package broker

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	bolt "go.etcd.io/bbolt"
)

// S3Fault describes requests to fail, slow down or hang. Zero fields mean
// "any"/"none" as documented per field.
type S3Fault struct {
	// Op selects the operation: "PUT", "GET", "HEAD", "LIST", "DELETE"
	// (incl. DeleteObjects) or "MULTIPART" (every multipart call); "" is all.
	// One step of a multipart upload is "MULTIPART:CREATE", "MULTIPART:PART"
	// (UploadPart), "MULTIPART:COMPLETE", "MULTIPART:ABORT" or
	// "MULTIPART:LIST".
	Op string
	// KeyPrefix selects object keys (for LIST: the request's prefix
	// parameter); "" is all.
	KeyPrefix string
	// Status is the HTTP status to answer with: 503 → SlowDown, 500 →
	// InternalError, other 4xx/5xx → a matching S3 code. 0 answers nothing
	// (only Latency or Hang apply, then the request proceeds).
	Status int
	// Code overrides the S3 error code derived from Status.
	Code string
	// Share is the fraction (0..1] of matching requests to fault, drawn from
	// a generator seeded with Seed; 0 means every matching request.
	Share float64
	// Count stops the fault after that many faulted requests; 0 is no limit.
	Count int
	// Latency delays a faulted request before it is answered.
	Latency time.Duration
	// Hang blocks a faulted request until the client gives up, the fault is
	// removed or the world closes.
	Hang bool
	// Seed seeds Share's generator so runs replay exactly.
	Seed int64
}

var s3Ops = map[string]bool{
	"": true, "PUT": true, "GET": true, "HEAD": true, "LIST": true, "DELETE": true, "MULTIPART": true,
	"MULTIPART:CREATE": true, "MULTIPART:PART": true, "MULTIPART:COMPLETE": true, "MULTIPART:ABORT": true, "MULTIPART:LIST": true,
}

func (f S3Fault) validate() error {
	if !s3Ops[strings.ToUpper(f.Op)] {
		return fmt.Errorf("S3Fault.Op %q is unknown: use PUT, GET, HEAD, LIST, DELETE, MULTIPART, MULTIPART:CREATE|PART|COMPLETE|ABORT|LIST or \"\" for all", f.Op)
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("S3Fault.Status %d is not an error status: use 400..599, or 0 for latency/hang only", f.Status)
	}
	if f.Share < 0 || f.Share > 1 {
		return fmt.Errorf("S3Fault.Share %v is outside 0..1", f.Share)
	}
	if f.Count < 0 || f.Latency < 0 {
		return fmt.Errorf("S3Fault.Count and Latency must not be negative")
	}
	return nil
}

type s3Fault struct {
	S3Fault
	mu      sync.Mutex // guards rng and fired
	rng     *rand.Rand
	fired   int
	hits    atomic.Int64
	removed chan struct{}
}

// take decides whether this matching request is faulted.
func (f *s3Fault) take() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Count > 0 && f.fired >= f.Count {
		return false
	}
	if f.Share > 0 && f.Share < 1 && f.rng.Float64() >= f.Share {
		return false
	}
	f.fired++
	f.hits.Add(1)
	return true
}

// FailS3 installs an S3 fault. A fault with a bad field matches nothing and
// reports why through Err.
func (c *Coordinator) FailS3(f S3Fault) *Fault {
	if err := f.validate(); err != nil {
		c.w.log.Warn("broker: S3 fault not installed", "err", err)
		return &Fault{err: fmt.Errorf("broker: FailS3: %w", err)}
	}
	f.Op = strings.ToUpper(f.Op)
	sf := &s3Fault{S3Fault: f, rng: rand.New(rand.NewSource(f.Seed)), removed: make(chan struct{})}
	s := c.w.s3
	s.mu.Lock()
	s.faults = append(s.faults, sf)
	s.mu.Unlock()
	return &Fault{
		hits: func() int { return int(sf.hits.Load()) },
		remove: func() {
			s.mu.Lock()
			for i, o := range s.faults {
				if o == sf {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			close(sf.removed)
		},
	}
}

// s3Server is gofakes3 on its own http.Server, behind a middleware that
// injects faults and refuses operations gofakes3 would get wrong.
type s3Server struct {
	addr      string
	srv       *http.Server
	next      http.Handler
	backend   gofakes3.Backend
	auth      bool     // check SigV4 signatures (s3auth.go)
	locks     keyLocks // per-key write locks for conditional writes (s3cond.go)
	serveDone chan struct{}
	done      <-chan struct{}
	db        *bolt.DB
	log       *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	closing  bool
	faults   []*s3Fault

	stats s3Stats // requests by operation, for World.S3Stats
}

func startS3(ctx context.Context, cfg config, dd *dataDir, log *slog.Logger, done <-chan struct{}) (*s3Server, error) {
	host, port, _ := splitAddr(cfg.s3Addr, 9000) // validated
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if isAddrInUse(err) {
			return nil, configError("S3Addr", "--s3-addr", cfg.s3Addr, "port %d is taken (%w); pick another address or stop what holds it: %w", port, err, ErrAddrInUse)
		}
		return nil, configError("S3Addr", "--s3-addr", cfg.s3Addr, "%w", err)
	}
	s := &s3Server{addr: ln.Addr().String(), serveDone: make(chan struct{}), done: done, log: log, auth: cfg.s3Auth}
	s.cond = sync.NewCond(&s.mu)
	var backend gofakes3.Backend
	if dd != nil {
		// s3bolt.NewFile opens bolt without a lock timeout (a second
		// process would block forever) and the backend cannot be closed:
		// open it ourselves.
		db, err := bolt.Open(dd.s3File(), 0o600, &bolt.Options{Timeout: 2 * time.Second})
		if err != nil {
			ln.Close()
			return nil, configError("DataDir", "--data-dir", cfg.dataDir, "open S3 store %s: %w; is another world using it?", dd.s3File(), err)
		}
		s.db = db
		backend = s3bolt.New(db)
	} else {
		backend = s3mem.New()
	}
	ok, err := backend.BucketExists(cfg.bucket)
	if err == nil && !ok {
		err = backend.CreateBucket(cfg.bucket)
	}
	if err != nil {
		ln.Close()
		if s.db != nil {
			s.db.Close()
		}
		return nil, fmt.Errorf("broker: create bucket %q: %w", cfg.bucket, err)
	}
	s.backend = backend
	faker := gofakes3.New(backend,
		gofakes3.WithAutoBucket(false),
		gofakes3.WithLogger(s3Logger{log}),
	)
	s.next = faker.Server()
	s.srv = &http.Server{
		Handler:           s.stats.counted(s),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("broker: S3 server stopped", "err", err)
		}
	}()
	return s, nil
}

// close stops serving, waits for handlers (hangs end because done is
// closed) and closes the bolt file.
func (s *s3Server) close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.srv.Close()
	<-s.serveDone
	s.mu.Lock()
	for s.inflight > 0 {
		s.cond.Wait()
	}
	s.mu.Unlock()
	if s.db != nil {
		if cerr := s.db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// unsupported lists sub-resources gofakes3 v1.2.0 does not implement. It
// routes them as plain object or bucket calls, so e.g. PutObjectTagging
// would replace the object's content with the tagging XML: refuse instead.
var unsupported = []string{
	"tagging", "attributes", "acl", "retention", "legal-hold", "torrent", "restore", "select",
	"policy", "policyStatus", "cors", "lifecycle", "website", "encryption", "replication",
	"notification", "logging", "requestPayment", "accelerate", "analytics", "inventory",
	"metrics", "intelligent-tiering", "object-lock", "ownershipControls", "publicAccessBlock",
}

func (s *s3Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		writeS3Error(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "the server is shutting down")
		return
	}
	s.inflight++
	faults := append([]*s3Fault(nil), s.faults...)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		rec := &statusRecorder{ResponseWriter: w}
		w = rec
		start := time.Now()
		defer func() { s.logRequest(r, rec, time.Since(start)) }()
	}
	w, finish, ok := s.authorize(w, r) // before dechunk, which rewrites a signed header
	if !ok {
		return
	}
	defer finish()

	q := r.URL.Query()
	for _, sub := range unsupported {
		if _, ok := q[sub]; ok {
			writeS3Error(w, r, http.StatusNotImplemented, "NotImplemented",
				fmt.Sprintf("tickflow's fake S3 (gofakes3) does not support the ?%s sub-resource; it is refused rather than risk corrupting data", sub))
			return
		}
	}
	if err := dechunk(r); err != nil {
		writeS3Error(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}

	op, step, key := classify(r)
	for _, f := range faults {
		if f.Op != "" && f.Op != op && f.Op != step || !strings.HasPrefix(key, f.KeyPrefix) {
			continue
		}
		if !f.take() {
			continue
		}
		s.stats.injected(op)
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
			case <-f.removed:
			case <-s.done:
			}
			t.Stop()
		}
		if f.Hang {
			select {
			case <-r.Context().Done():
				return
			case <-f.removed:
			case <-s.done:
				writeS3Error(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "the server is shutting down")
				return
			}
		}
		if r.Context().Err() != nil {
			return
		}
		if f.Status != 0 {
			code := f.Code
			if code == "" {
				code = s3Code(f.Status)
			}
			writeS3Error(w, r, f.Status, code, "injected by tickflow: "+http.StatusText(f.Status))
			return
		}
	}
	s.serveWrite(w, r)
}

// classify returns the fault Op of r, the multipart step ("" for other
// calls) and the key a KeyPrefix is matched against.
func classify(r *http.Request) (op, step, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	_, obj, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	_, uploads := q["uploads"]
	switch {
	case uploads && r.Method == http.MethodPost:
		return "MULTIPART", "MULTIPART:CREATE", obj
	case uploads:
		return "MULTIPART", "MULTIPART:LIST", obj
	case q.Get("uploadId") != "":
		switch r.Method {
		case http.MethodPut:
			return "MULTIPART", "MULTIPART:PART", obj
		case http.MethodPost:
			return "MULTIPART", "MULTIPART:COMPLETE", obj
		case http.MethodDelete:
			return "MULTIPART", "MULTIPART:ABORT", obj
		}
		return "MULTIPART", "MULTIPART:LIST", obj
	}
	if obj == "" {
		switch r.Method {
		case http.MethodGet:
			return "LIST", "", q.Get("prefix")
		case http.MethodPost:
			return "DELETE", "", ""
		}
		return r.Method, "", ""
	}
	return r.Method, "", obj
}

func s3Code(status int) string {
	switch status {
	case 503:
		return "SlowDown"
	case 500:
		return "InternalError"
	case 501:
		return "NotImplemented"
	case 403:
		return "AccessDenied"
	case 404:
		return "NoSuchKey"
	case 409:
		return "OperationAborted"
	case 429:
		return "SlowDown"
	}
	if status >= 500 {
		return "ServiceUnavailable"
	}
	return "InvalidRequest"
}

type s3ErrorBody struct {
	XMLName   xml.Name  `xml:"Error"`
	Code      string    `xml:"Code"`
	Message   string    `xml:"Message"`
	Extra     []xmlElem `xml:",any"` // e.g. Condition, Header, AWSAccessKeyId, ServerTime
	Resource  string    `xml:"Resource"`
	RequestID string    `xml:"RequestId"`
}

var reqSeq atomic.Uint64

// writeS3Error answers like S3 does: an XML <Error> body (none for HEAD).
// It first reads what is left of the request body (up to 64 MiB): net/http
// would otherwise reset a connection whose client is still sending, and the
// client would see "connection reset" instead of the S3 error.
func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeS3ErrorDetail(w, r, status, code, msg, "", "")
}

// xmlElem is one further element of an S3 error: <Name>Value</Name>.
type xmlElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// writeS3ErrorDetail is writeS3Error with one extra element AWS adds to some
// errors: "Condition" (PreconditionFailed) or "Header" (NotImplemented).
func writeS3ErrorDetail(w http.ResponseWriter, r *http.Request, status int, code, msg, elem, value string) {
	var extra [][2]string
	if elem != "" {
		extra = [][2]string{{elem, value}}
	}
	writeS3ErrorElems(w, r, status, code, msg, extra)
}

// writeS3ErrorElems is writeS3Error with further elements (name, value) in
// the order AWS puts them after <Message>.
func writeS3ErrorElems(w http.ResponseWriter, r *http.Request, status int, code, msg string, extra [][2]string) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	}
	id := fmt.Sprintf("TF%014X", reqSeq.Add(1))
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", id)
	h.Set("Server", "AmazonS3")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	e := s3ErrorBody{Code: code, Message: msg, Resource: r.URL.Path, RequestID: id}
	for _, kv := range extra {
		e.Extra = append(e.Extra, xmlElem{XMLName: xml.Name{Local: kv[0]}, Value: kv[1]})
	}
	body, _ := xml.Marshal(e)
	io.WriteString(w, xml.Header)
	w.Write(body)
}

// dechunk strips aws-chunked framing from uploads that use trailing
// checksums (STREAMING-*-TRAILER, sent by newer SDKs over HTTPS and by some
// clients always): gofakes3 v1.2.0 decodes only the signed non-trailer
// variant and would store the framing as object content.
func dechunk(r *http.Request) error {
	sha := r.Header.Get("X-Amz-Content-Sha256")
	if !strings.HasPrefix(sha, "STREAMING-") || !strings.HasSuffix(sha, "-TRAILER") {
		return nil
	}
	n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil {
		return fmt.Errorf("aws-chunked upload without a valid x-amz-decoded-content-length")
	}
	r.Body = &chunkReader{br: bufio.NewReader(r.Body), body: r.Body}
	r.ContentLength = n
	r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	enc := strings.TrimSpace(strings.ReplaceAll(r.Header.Get("Content-Encoding"), "aws-chunked", ""))
	enc = strings.Trim(enc, ", ")
	if enc == "" {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", enc)
	}
	return nil
}

// chunkReader decodes "hex-size[;ext]\r\n data \r\n ... 0\r\n trailers \r\n".
type chunkReader struct {
	br   *bufio.Reader
	body io.Closer
	left int64
	eof  bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.eof {
			return 0, io.EOF
		}
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("aws-chunked: %w", io.ErrUnexpectedEOF)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue // CRLF after a chunk's data
		}
		sizeHex, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
		if err != nil || size < 0 {
			return 0, fmt.Errorf("aws-chunked: bad chunk header %q", line)
		}
		if size == 0 {
			c.eof = true
			// Trailer lines (checksums) end with an empty line; drain them.
			for {
				t, err := c.br.ReadString('\n')
				if strings.TrimRight(t, "\r\n") == "" || err != nil {
					break
				}
			}
			return 0, io.EOF
		}
		c.left = size
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err == io.EOF && c.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *chunkReader) Close() error { return c.body.Close() }

// s3Logger forwards gofakes3's warnings and errors to slog at debug level.
// Its INFO messages ("CREATE OBJECT:bucketkey") are dropped: ServeHTTP logs
// one well-formed line per request instead.
type s3Logger struct{ l *slog.Logger }

func (s s3Logger) Print(level gofakes3.LogLevel, v ...any) {
	if level == gofakes3.LogInfo || !s.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.l.Debug(strings.TrimSpace(fmt.Sprintln(v...)), "component", "gofakes3", "gofakes3_level", string(level))
}

// statusRecorder remembers a response's status and size for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logRequest logs one S3 request: operation, bucket, key, status, sizes.
func (s *s3Server) logRequest(r *http.Request, rec *statusRecorder, d time.Duration) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	op, step, _ := classify(r)
	if step != "" {
		op = step
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	s.log.Debug("s3 request", "method", r.Method, "op", op, "bucket", bucket, "key", key,
		"status", status, "bytes_in", max(r.ContentLength, 0), "bytes_out", rec.bytes,
		"duration", d.Round(time.Microsecond), "from", r.RemoteAddr)
}
