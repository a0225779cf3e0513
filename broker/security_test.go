package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestKafkaTLSAndSASL(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			w := startWorld(t, Brokers(2), KafkaTLS(""), KafkaSASL(mech, "u", "p"))
			files, ok := w.TLSFiles()
			require.True(t, ok)
			for _, f := range []string{files.CAFile, files.CertFile, files.KeyFile} {
				require.FileExists(t, f)
			}
			// The world's own client options work: produce and read metadata.
			cl := newClient(t, w, w.KafkaClientOptions()...)
			produceN(t, cl, DefaultTopic, mech, 5)
			m, u, p, ok := w.SASLUser()
			assert.True(t, ok)
			assert.Equal(t, []string{mech, "u", "p"}, []string{m, u, p})

			// A client trusting the CA file but with a wrong password is refused.
			pem, err := os.ReadFile(files.CAFile)
			require.NoError(t, err)
			pool := x509.NewCertPool()
			require.True(t, pool.AppendCertsFromPEM(pem))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			bad, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
				kgo.SASL(scram.Auth{User: "u", Pass: "wrong"}.AsSha512Mechanism()))
			require.NoError(t, err)
			defer bad.Close()
			assert.Error(t, bad.Ping(ctx))

			// Without TLS nothing is served.
			plain, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...))
			require.NoError(t, err)
			defer plain.Close()
			assert.Error(t, plain.Ping(ctx))
		})
	}
}

func TestKafkaTLSFilesInDirAndTempRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	w := startWorld(t, Brokers(1), KafkaTLS(dir))
	files, _ := w.TLSFiles()
	assert.Equal(t, filepath.Join(dir, "ca.pem"), files.CAFile)
	st, err := os.Stat(files.KeyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the private key is readable by its owner only")

	w2, err := Start(context.Background(), Brokers(1), KafkaTLS(""))
	require.NoError(t, err)
	tmp, _ := w2.TLSFiles()
	require.NoError(t, w2.Close())
	assert.NoDirExists(t, filepath.Dir(tmp.CAFile), "a temporary TLS folder is removed at Close")

	_, err = Start(context.Background(), KafkaSASL("GSSAPI", "u", "p"))
	assert.ErrorContains(t, err, "KafkaSASL")
}
