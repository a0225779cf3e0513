package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// kfake speaks SASL the modern way only: SaslHandshake v1 followed by
// SaslAuthenticate requests (KIP-152). Two clients users have do not:
//
//   - kafka-python 2.0.2 (Debian's) sends SaslHandshake v0 and then the raw
//     SASL tokens, each as [int32 length][bytes], outside Kafka's framing.
//   - librdkafka (kcat) enables SASL only when ApiVersions lists
//     SaslHandshake from version 0, and kfake lists it from 1 — librdkafka
//     then sends v1 and SaslAuthenticate, which kfake serves.
//
// saslConn sits between a client and kfake when SASL is on and makes both
// work: it lists SaslHandshake from v0 in ApiVersions answers, lists the
// accepted mechanism in a successful handshake's answer, turns a v0
// handshake into v1, wraps each raw token into a SaslAuthenticate request
// and unwraps the answer back into a raw token (closing the connection on a
// failed login, which is how a v0 broker says it). Real Kafka does all of
// this itself; nothing else on the connection is changed.

const (
	keySASLHandshake    = 17
	keyAPIVersions      = 18
	keySASLAuthenticate = 36
	// rawCorrelation tags the SaslAuthenticate requests saslConn makes up;
	// clients count theirs up from 0 or 1.
	rawCorrelation = int32(-0x1A5A0000)
	maxFrame       = 100 << 20
)

type saslConn struct {
	net.Conn

	// Client → kfake (Read).
	in  []byte // translated bytes waiting to be read
	raw int    // raw tokens still expected from the client (v0 login)

	mu         sync.Mutex
	rawSeen    int32            // raw tokens wrapped so far
	apiVersion map[int32]int16  // correlation id → version of pending ApiVersions requests
	handshake  map[int32]string // correlation id → mechanism of pending SaslHandshake requests
	pendingRaw int              // made-up SaslAuthenticate requests not yet answered

	// kfake → client (Write).
	out bytes.Buffer
}

func newSASLConn(c net.Conn) *saslConn {
	return &saslConn{Conn: c, apiVersion: map[int32]int16{}, handshake: map[int32]string{}}
}

func (c *saslConn) Read(p []byte) (int, error) {
	for len(c.in) == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

// next reads one frame (or raw token) from the client and queues what kfake
// should see.
func (c *saslConn) next() error {
	var size [4]byte
	if _, err := io.ReadFull(c.Conn, size[:]); err != nil {
		return err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > maxFrame {
		return fmt.Errorf("kafka frame of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.Conn, body); err != nil {
		return err
	}
	if c.raw > 0 {
		// A raw SASL token after a v0 handshake: wrap it.
		c.raw--
		c.mu.Lock()
		c.rawSeen++
		seen := c.rawSeen
		c.pendingRaw++
		c.mu.Unlock()
		req := make([]byte, 0, 14+len(body))
		req = binary.BigEndian.AppendUint16(req, keySASLAuthenticate)
		req = binary.BigEndian.AppendUint16(req, 0)
		req = binary.BigEndian.AppendUint32(req, uint32(rawCorrelation+seen))
		req = binary.BigEndian.AppendUint16(req, 0xFFFF) // null client id
		req = binary.BigEndian.AppendUint32(req, uint32(len(body)))
		req = append(req, body...)
		c.queue(req)
		return nil
	}
	if len(body) >= 8 {
		key := int16(binary.BigEndian.Uint16(body[0:2]))
		version := int16(binary.BigEndian.Uint16(body[2:4]))
		corr := int32(binary.BigEndian.Uint32(body[4:8]))
		switch {
		case key == keyAPIVersions:
			c.mu.Lock()
			c.apiVersion[corr] = version
			c.mu.Unlock()
		case key == keySASLHandshake:
			mech := handshakeMechanism(body)
			c.mu.Lock()
			c.handshake[corr] = mech
			c.mu.Unlock()
			if version == 0 {
				binary.BigEndian.PutUint16(body[2:4], 1)
				c.raw = rawTokens(mech)
			}
		}
	}
	c.queue(body)
	return nil
}

func (c *saslConn) queue(frame []byte) {
	c.in = binary.BigEndian.AppendUint32(c.in, uint32(len(frame)))
	c.in = append(c.in, frame...)
}

// handshakeMechanism reads the mechanism of a SaslHandshake request (after
// the header: client id, then the mechanism string).
func handshakeMechanism(body []byte) string {
	p := 8
	if len(body) < p+2 {
		return ""
	}
	if l := int16(binary.BigEndian.Uint16(body[p:])); l > 0 {
		p += int(l)
	}
	p += 2
	if len(body) < p+2 {
		return ""
	}
	l := int(binary.BigEndian.Uint16(body[p:]))
	if len(body) < p+2+l {
		return ""
	}
	return string(body[p+2 : p+2+l])
}

// rawTokens is how many raw tokens a v0 login sends: PLAIN one, SCRAM two.
func rawTokens(mechanism string) int {
	switch mechanism {
	case SASLPlain:
		return 1
	case SASLScramSHA256, SASLScramSHA512:
		return 2
	}
	return 0 // kfake refuses the mechanism; the client closes
}

// Write receives kfake's answers, edits the ones saslConn cares about and
// passes everything on in order.
func (c *saslConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(p)
	for c.out.Len() >= 4 {
		n := int(binary.BigEndian.Uint32(c.out.Bytes()[:4]))
		if c.out.Len() < 4+n {
			break
		}
		frame := append([]byte(nil), c.out.Bytes()[:4+n]...)
		c.out.Next(4 + n)
		out, err := c.answer(frame)
		if err != nil {
			c.Conn.Close()
			return 0, err
		}
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

var errSASLRefused = errors.New("sasl: login refused")

// answer edits one response frame (size prefix included); mu is held.
func (c *saslConn) answer(frame []byte) ([]byte, error) {
	if len(frame) < 8 {
		return frame, nil
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:8]))
	if c.pendingRaw > 0 && corr > rawCorrelation && corr <= rawCorrelation+c.rawSeen {
		c.pendingRaw--
		// SaslAuthenticate v0 answer: error code, error message, auth bytes.
		b := frame[8:]
		if len(b) < 4 || binary.BigEndian.Uint16(b[0:2]) != 0 {
			return nil, errSASLRefused
		}
		p := 2
		if l := int16(binary.BigEndian.Uint16(b[p:])); l > 0 {
			p += int(l)
		}
		p += 2
		if len(b) < p+4 {
			return nil, errSASLRefused
		}
		return b[p:], nil // [int32 length][token]: exactly the raw form
	}
	if mech, ok := c.handshake[corr]; ok {
		delete(c.handshake, corr)
		// kfake lists the enabled mechanisms only when it refuses one;
		// Kafka always lists them, and kafka-python checks the list.
		b := frame[8:]
		if len(b) >= 6 && binary.BigEndian.Uint16(b[0:2]) == 0 && binary.BigEndian.Uint32(b[2:6]) == 0 {
			out := binary.BigEndian.AppendUint32(nil, 0) // size, set below
			out = binary.BigEndian.AppendUint32(out, uint32(corr))
			out = binary.BigEndian.AppendUint16(out, 0)
			out = binary.BigEndian.AppendUint32(out, 1)
			out = binary.BigEndian.AppendUint16(out, uint16(len(mech)))
			out = append(out, mech...)
			binary.BigEndian.PutUint32(out[0:4], uint32(len(out)-4))
			return out, nil
		}
		return frame, nil
	}
	if v, ok := c.apiVersion[corr]; ok {
		delete(c.apiVersion, corr)
		listHandshakeFromV0(frame[8:], v)
	}
	return frame, nil
}

// listHandshakeFromV0 sets SaslHandshake's min version to 0 in an
// ApiVersions response body of the given version, in place.
func listHandshakeFromV0(b []byte, version int16) {
	if len(b) < 2 {
		return
	}
	p := 2 // error code
	var count int
	if version >= 3 {
		n, w := binary.Uvarint(b[p:])
		if w <= 0 || n == 0 {
			return
		}
		count, p = int(n-1), p+w
	} else {
		if len(b) < p+4 {
			return
		}
		count, p = int(int32(binary.BigEndian.Uint32(b[p:]))), p+4
	}
	for i := 0; i < count && len(b) >= p+6; i++ {
		if int16(binary.BigEndian.Uint16(b[p:])) == keySASLHandshake {
			binary.BigEndian.PutUint16(b[p+2:], 0)
			return
		}
		p += 6
		if version >= 3 { // skip the entry's tagged fields
			n, w := binary.Uvarint(b[p:])
			if w <= 0 {
				return
			}
			p += w
			for j := uint64(0); j < n; j++ {
				_, w1 := binary.Uvarint(b[p:])
				if w1 <= 0 {
					return
				}
				p += w1
				l, w2 := binary.Uvarint(b[p:])
				if w2 <= 0 {
					return
				}
				p += w2 + int(l)
			}
		}
	}
}
