package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms the brokers can require (KafkaSASL).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// KafkaTLS makes every broker listener TLS-only. A CA and a server
// certificate for the brokers' address (plus localhost) are generated at
// start and written as PEM files to dir (a new temporary folder, removed at
// Close, when dir is ""); TLSFiles names them. Clients trust CAFile, e.g.
// `kcat -X security.protocol=ssl -X ssl.ca.location=CAFILE`.
func KafkaTLS(dir string) Option {
	return func(c *config) { c.tls, c.tlsDir = true, dir }
}

// KafkaSASL makes the brokers require SASL authentication with mechanism
// (SASLPlain, SASLScramSHA256 or SASLScramSHA512) and one superuser
// user/password. Without KafkaTLS the password crosses the network in the
// clear with PLAIN (SCRAM never sends it).
func KafkaSASL(mechanism, user, password string) Option {
	return func(c *config) { c.sasl = &saslUser{strings.ToUpper(mechanism), user, password} }
}

type saslUser struct{ mechanism, user, password string }

func (c *config) validateSecurity() error {
	if c.sasl == nil {
		return nil
	}
	switch c.sasl.mechanism {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		return fmt.Errorf("broker: KafkaSASL(%q) (--sasl): unknown mechanism: use %s, %s or %s", c.sasl.mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	if c.sasl.user == "" || c.sasl.password == "" {
		return fmt.Errorf("broker: KafkaSASL(%q): the user and the password must not be empty", c.sasl.mechanism)
	}
	return nil
}

// TLSFiles names the PEM files KafkaTLS wrote.
type TLSFiles struct {
	CAFile   string `json:"ca_file"`   // the CA certificate clients trust
	CertFile string `json:"cert_file"` // the brokers' certificate, signed by the CA
	KeyFile  string `json:"key_file"`  // its private key
}

// kafkaTLS is what KafkaTLS generated.
type kafkaTLS struct {
	files   TLSFiles
	server  *tls.Config
	roots   *x509.CertPool
	tempDir string // removed at Close
}

// generateTLS writes a fresh CA and a server certificate for host to dir.
func generateTLS(dir, host string) (*kafkaTLS, error) {
	kt := &kafkaTLS{}
	if dir == "" {
		d, err := os.MkdirTemp("", "tickflow-tls-")
		if err != nil {
			return nil, fmt.Errorf("broker: KafkaTLS: %w", err)
		}
		dir, kt.tempDir = d, d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("broker: KafkaTLS(%q): %w", dir, err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "tickflow serve local CA", Organization: []string{"tickflow"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("broker: KafkaTLS: CA certificate: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host, Organization: []string{"tickflow"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("broker: KafkaTLS: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	kt.files = TLSFiles{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "server.pem"),
		KeyFile:  filepath.Join(dir, "server-key.pem"),
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{kt.files.CAFile, "CERTIFICATE", caDER, 0o644},
		{kt.files.CertFile, "CERTIFICATE", der, 0o644},
		{kt.files.KeyFile, "PRIVATE KEY", keyDER, 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return nil, fmt.Errorf("broker: KafkaTLS(%q): %w", dir, err)
		}
	}
	kt.roots = x509.NewCertPool()
	kt.roots.AddCert(ca)
	kt.server = &tls.Config{
		MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{der, caDER},
			PrivateKey:  key,
		}},
	}
	return kt, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// kfakeSecurity returns kfake's options for the configured TLS and SASL.
func (w *World) kfakeSecurity() []kfake.Opt {
	// TLS is not kfake.TLS: the listeners do it (listen.go), so saslConn
	// and the request log see plain Kafka frames.
	var opts []kfake.Opt
	if s := w.cfg.sasl; s != nil {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(s.mechanism, s.user, s.password))
	}
	return opts
}

// TLSFiles returns the CA and server certificate files KafkaTLS wrote; ok is
// false without KafkaTLS.
func (w *World) TLSFiles() (files TLSFiles, ok bool) {
	if w.tls == nil {
		return TLSFiles{}, false
	}
	return w.tls.files, true
}

// KafkaClientOptions returns the kgo options a client needs for this world's
// security: trust in the generated CA (KafkaTLS) and the SASL user
// (KafkaSASL). Empty when neither is set.
func (w *World) KafkaClientOptions() []kgo.Opt {
	var opts []kgo.Opt
	if w.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{RootCAs: w.tls.roots, MinVersion: tls.VersionTLS12}))
	}
	if m := w.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

// SASLUser returns the mechanism, user and password KafkaSASL set; ok is
// false without KafkaSASL.
func (w *World) SASLUser() (mechanism, user, password string, ok bool) {
	s := w.cfg.sasl
	if s == nil {
		return "", "", "", false
	}
	return s.mechanism, s.user, s.password, true
}

func (w *World) saslMechanism() sasl.Mechanism {
	s := w.cfg.sasl
	if s == nil {
		return nil
	}
	switch s.mechanism {
	case SASLPlain:
		return plain.Auth{User: s.user, Pass: s.password}.AsMechanism()
	case SASLScramSHA256:
		return scram.Auth{User: s.user, Pass: s.password}.AsSha256Mechanism()
	default:
		return scram.Auth{User: s.user, Pass: s.password}.AsSha512Mechanism()
	}
}
