package broker

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
)

// ErrAddrInUse is wrapped by Start and RestartBroker when a port is taken.
var ErrAddrInUse = errors.New("address already in use")

// trackedListener remembers the connections it accepted so that stopping a
// broker can cut them: kfake's RemoveNode only closes the listener, and open
// connections would otherwise keep being served by a "dead" broker.
type trackedListener struct {
	net.Listener
	rl   *requestLog // non-nil: log each Kafka request (see kafkaLogConn)
	tls  *tls.Config // non-nil: KafkaTLS (done here, so what follows sees plain Kafka)
	sasl bool        // KafkaSASL: translate old clients' SASL (saslConn)

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

type trackedConn struct {
	net.Conn
	l    *trackedListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}

func (l *trackedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.tls != nil {
		conn = tls.Server(conn, l.tls)
	}
	if l.sasl {
		conn = newSASLConn(conn)
	}
	if l.rl != nil {
		conn = &kafkaLogConn{Conn: conn, rl: l.rl, broker: l.Addr().String()}
	}
	tc := &trackedConn{Conn: conn, l: l}
	l.mu.Lock()
	if l.closed {
		// Raced with a stop: the broker is down, so is this connection.
		l.mu.Unlock()
		conn.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

// Close closes the listener (not the connections; see cut).
func (l *trackedListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Listener.Close()
}

// cut closes the listener and every connection it accepted.
func (l *trackedListener) cut() {
	l.Close()
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// listenerSet is kfake's ListenFn: it binds the configured host and records
// every listener by its address.
type listenerSet struct {
	host string
	rl   *requestLog // non-nil: listeners log each Kafka request
	tls  *tls.Config // non-nil: listeners speak TLS
	sasl bool        // listeners translate old clients' SASL

	mu     sync.Mutex
	byAddr map[string]*trackedListener
}

func newListenerSet(host string) *listenerSet {
	return &listenerSet{host: host, byAddr: map[string]*trackedListener{}}
}

func (s *listenerSet) listen(network, address string) (net.Listener, error) {
	// kfake always asks for 127.0.0.1:port; bind the configured host.
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, net.JoinHostPort(s.host, port))
	if err != nil {
		return nil, err
	}
	tl := &trackedListener{Listener: ln, rl: s.rl, tls: s.tls, sasl: s.sasl, conns: map[*trackedConn]struct{}{}}
	s.mu.Lock()
	s.byAddr[ln.Addr().String()] = tl
	s.mu.Unlock()
	return tl, nil
}

// cut closes the listener bound to addr and all its connections.
func (s *listenerSet) cut(addr string) {
	s.mu.Lock()
	tl := s.byAddr[addr]
	delete(s.byAddr, addr)
	s.mu.Unlock()
	if tl != nil {
		tl.cut()
	}
}

// cutAll closes every listener and connection.
func (s *listenerSet) cutAll() {
	s.mu.Lock()
	all := make([]*trackedListener, 0, len(s.byAddr))
	for _, tl := range s.byAddr {
		all = append(all, tl)
	}
	s.byAddr = map[string]*trackedListener{}
	s.mu.Unlock()
	for _, tl := range all {
		tl.cut()
	}
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
