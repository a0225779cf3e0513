package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// s3Proxy stands between a sink process and the world's S3 and can hold
// PUTs: it reads the whole request, waits, then forwards it on its own
// context, so the PUT lands late even if the client gave up or froze — as
// a load balancer, a proxy or a stalled host would deliver it. Other
// requests pass straight through. The Host header is kept, so signed
// requests still verify.
type s3Proxy struct {
	target string    // http://host:port of the real S3
	rec    *recorder // when set, told of every write S3 accepted
	ln     net.Listener
	srv    *http.Server
	client *http.Client

	mu    sync.Mutex
	delay func() time.Duration // per PUT; nil: no delay
	once  bool                 // hold only the next PUT

	held       atomic.Int32 // PUTs being held right now
	late       atomic.Int32 // PUTs forwarded after their client had gone
	refused    atomic.Int32 // held PUTs S3 answered 412 PreconditionFailed
	heldTotal  atomic.Int32
	wg         sync.WaitGroup
	closeOnce  sync.Once
	shutdownCh chan struct{}
}

func (e *env) startS3Proxy() (*s3Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, precondition("S3 proxy listener: %v", err)
	}
	p := &s3Proxy{target: e.w.S3Endpoint(), rec: e.rec, ln: ln, client: &http.Client{Timeout: 2 * time.Minute},
		shutdownCh: make(chan struct{})}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	e.closers = append(e.closers, p.close)
	return p, nil
}

func (p *s3Proxy) url() string { return "http://" + p.ln.Addr().String() }

// holdPUTs delays every following PUT by d() (nil: stop delaying).
func (p *s3Proxy) holdPUTs(d func() time.Duration) {
	p.mu.Lock()
	p.delay, p.once = d, false
	p.mu.Unlock()
}

// holdNextPUT delays only the next PUT by d.
func (p *s3Proxy) holdNextPUT(d time.Duration) {
	p.mu.Lock()
	p.delay, p.once = func() time.Duration { return d }, true
	p.mu.Unlock()
}

// settle waits until no PUT is held any more: every late write has landed
// (or been refused) before the lake is checked.
func (p *s3Proxy) settle(ctx context.Context) error {
	return poll(ctx, func() bool { return p.held.Load() == 0 })
}

func (p *s3Proxy) close() {
	p.closeOnce.Do(func() {
		close(p.shutdownCh)
		_ = p.srv.Close()
		p.wg.Wait()
	})
}

func (p *s3Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "proxy: read body: "+err.Error(), http.StatusBadGateway)
		return
	}
	var d time.Duration
	// Only the table's data PUTs are held: not the sink's start-up probe of
	// conditional writes (<prefix>/_tickflow/), nor what goes under other
	// hidden folders (_dead_letters/, a consumer's _rejected/). Holding the
	// probe would make the sink wait at start instead of with a data PUT in
	// flight.
	if r.Method == http.MethodPut && !strings.Contains(r.URL.Path, "/_") {
		p.mu.Lock()
		if p.delay != nil {
			d = p.delay()
			if p.once {
				p.delay = nil
			}
		}
		p.mu.Unlock()
	}
	out, err := http.NewRequestWithContext(context.Background(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	if d <= 0 {
		p.forward(w, out, r, body)
		return
	}
	// Held: the request is forwarded after d whatever the client does.
	p.held.Add(1)
	p.heldTotal.Add(1)
	p.wg.Add(1)
	res := make(chan *http.Response, 1)
	go func() {
		defer p.wg.Done()
		defer p.held.Add(-1)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.shutdownCh:
		}
		if r.Context().Err() != nil {
			p.late.Add(1)
		}
		resp, err := p.client.Do(out)
		if err != nil {
			res <- nil
			return
		}
		rbody, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(rbody))
		if resp.StatusCode == http.StatusPreconditionFailed {
			p.refused.Add(1)
		}
		if p.rec != nil {
			p.rec.observe(r, body, resp.StatusCode)
		}
		res <- resp
	}()
	select {
	case resp := <-res:
		writeResponse(w, resp)
	case <-r.Context().Done():
	}
}

// forward sends out to S3 now and answers w with S3's answer; the recorder
// (if any) hears of an accepted write first.
func (p *s3Proxy) forward(w http.ResponseWriter, out, in *http.Request, body []byte) {
	resp, err := p.client.Do(out)
	if err != nil {
		writeResponse(w, nil)
		return
	}
	defer resp.Body.Close()
	if p.rec != nil {
		p.rec.observe(in, body, resp.StatusCode)
	}
	writeResponse(w, resp)
}

func writeResponse(w http.ResponseWriter, resp *http.Response) {
	if resp == nil {
		http.Error(w, "proxy: S3 unreachable", http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *s3Proxy) summary() string {
	return fmt.Sprintf("%d PUTs held, %d landed after their client had gone, %d refused with 412", p.heldTotal.Load(), p.late.Load(), p.refused.Load())
}
