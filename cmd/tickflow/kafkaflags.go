package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Kafka client security shared by produce, sink and verify --brokers: TLS
// and SASL with franz-go's own packages, the password only from the
// environment.

// saslPasswordEnv holds the SASL password: never a flag, so it stays out of
// shell history and `ps`.
const saslPasswordEnv = "TICKFLOW_SASL_PASSWORD"

// kafkaSecurity holds the security flags.
type kafkaSecurity struct {
	tls        bool
	caFile     string
	certFile   string
	keyFile    string
	serverName string
	mechanism  string
	user       string
}

func (k *kafkaSecurity) flags(fl *pflag.FlagSet) {
	fl.BoolVar(&k.tls, "tls", false, "connect to Kafka with TLS, trusting the system's CAs (MSK, Confluent Cloud, ...)")
	fl.StringVar(&k.caFile, "tls-ca", "", "PEM file of the CA that signed the brokers' certificates (implies --tls)")
	fl.StringVar(&k.certFile, "tls-cert", "", "PEM client certificate for mutual TLS (with --tls-key; implies --tls)")
	fl.StringVar(&k.keyFile, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&k.serverName, "tls-server-name", "", "name to verify the brokers' certificates against (default: each broker's host; implies --tls)")
	fl.StringVar(&k.mechanism, "sasl", "", "SASL mechanism: plain, scram-sha-256, scram-sha-512 or aws-msk-iam (password in $"+saslPasswordEnv+"; MSK IAM uses the AWS credential chain)")
	fl.StringVar(&k.user, "sasl-user", "", "SASL user (plain, scram-*)")
}

// enabled reports whether any security flag was given.
func (k *kafkaSecurity) enabled() bool {
	return k.tls || k.caFile != "" || k.certFile != "" || k.keyFile != "" || k.serverName != "" || k.mechanism != "" || k.user != ""
}

// options validates the flags and returns the kgo options they ask for. A
// bad combination is a usage error naming the flag; warnings (PLAIN in the
// clear) go to stderr.
func (k *kafkaSecurity) options(ctx context.Context, stderr io.Writer) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	useTLS := k.tls || k.caFile != "" || k.certFile != "" || k.keyFile != "" || k.serverName != ""
	if useTLS {
		cfg, err := k.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	mech := strings.ToLower(k.mechanism)
	if mech == "" {
		if k.user != "" {
			return nil, usageError("--sasl-user %s: needs --sasl plain, scram-sha-256 or scram-sha-512", k.user)
		}
		return opts, nil
	}
	var m sasl.Mechanism
	switch mech {
	case "plain", "scram-sha-256", "scram-sha-512":
		if k.user == "" {
			return nil, usageError("--sasl %s: needs --sasl-user (and the password in $%s)", mech, saslPasswordEnv)
		}
		pass := os.Getenv(saslPasswordEnv)
		if pass == "" {
			return nil, usageError("--sasl %s: set the password in $%s (it is never a flag)", mech, saslPasswordEnv)
		}
		switch mech {
		case "plain":
			m = plain.Auth{User: k.user, Pass: pass}.AsMechanism()
			if !useTLS {
				fmt.Fprintf(stderr, "tickflow: warning: --sasl plain without --tls sends the password in clear text; add --tls unless this is a local test\n")
			}
		case "scram-sha-256":
			m = scram.Auth{User: k.user, Pass: pass}.AsSha256Mechanism()
		default:
			m = scram.Auth{User: k.user, Pass: pass}.AsSha512Mechanism()
		}
	case "aws-msk-iam":
		if k.user != "" {
			return nil, usageError("--sasl-user %s: not used with --sasl aws-msk-iam, which signs with the AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, an instance role)", k.user)
		}
		if !useTLS {
			return nil, usageError("--sasl aws-msk-iam: needs --tls (MSK's IAM listener, port 9098, is TLS-only)")
		}
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, usageError("--sasl aws-msk-iam: load the AWS credential chain: %v", err)
		}
		m = saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
			c, err := awsCfg.Credentials.Retrieve(ctx)
			if err != nil {
				return saslaws.Auth{}, fmt.Errorf("AWS credentials for MSK IAM: %w", err)
			}
			return saslaws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: "tickflow"}, nil
		})
	default:
		return nil, usageError("--sasl %q: want plain, scram-sha-256, scram-sha-512 or aws-msk-iam", k.mechanism)
	}
	return append(opts, kgo.SASL(m)), nil
}

func (k *kafkaSecurity) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.serverName}
	if k.caFile != "" {
		pem, err := os.ReadFile(k.caFile)
		if err != nil {
			return nil, usageError("--tls-ca %s: %v", k.caFile, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError("--tls-ca %s: no PEM certificate in it; give the CA certificate file (-----BEGIN CERTIFICATE-----)", k.caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case k.certFile != "" && k.keyFile == "":
		return nil, usageError("--tls-cert %s: needs --tls-key with its private key", k.certFile)
	case k.keyFile != "" && k.certFile == "":
		return nil, usageError("--tls-key %s: needs --tls-cert with the certificate", k.keyFile)
	case k.certFile != "":
		cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
		if err != nil {
			return nil, usageError("--tls-cert %s / --tls-key %s: %v", k.certFile, k.keyFile, unwrapPath(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// preflight connects once with opts and turns what goes wrong into one line
// naming the flag: a refused password, an untrusted certificate, a TLS/plain
// mismatch. Without it kgo would retry an authentication failure until its
// own timeouts and the command would look hung.
func (k *kafkaSecurity) preflight(ctx context.Context, brokers []string, opts []kgo.Opt) error {
	if !k.enabled() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		return usageError("--brokers %s: %v", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	err = cl.Ping(ctx)
	if err == nil {
		return nil
	}
	return k.explain(brokers, err)
}

// explain names the flag behind a connection error.
func (k *kafkaSecurity) explain(brokers []string, err error) error {
	boot := strings.Join(brokers, ",")
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		who := k.user
		if who == "" {
			who = "the AWS credentials"
		}
		return usageError("--sasl %s --sasl-user %s: the brokers at %s refused the login (%s); check $%s", k.mechanism, who, boot, kerr.SaslAuthenticationFailed.Message, saslPasswordEnv)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return usageError("--sasl %s: the brokers at %s do not offer this mechanism; ask which they enable (MSK: scram-sha-512 on port 9096, aws-msk-iam on 9098)", k.mechanism, boot)
	case errors.Is(err, kerr.IllegalSaslState):
		return usageError("--sasl %s: the brokers at %s are not expecting SASL on this listener; drop --sasl or use their SASL port", k.mechanism, boot)
	case errors.As(err, &hostErr):
		return usageError("--tls-server-name: the brokers' certificate is for %s, not %s; pass --tls-server-name with a name it holds", strings.Join(hostErr.Certificate.DNSNames, ", "), hostErr.Host)
	case errors.As(err, &unknownAuth) || errors.As(err, &certErr):
		return usageError("--tls-ca: the brokers' certificate at %s is not signed by a trusted CA (%v); pass --tls-ca with the CA file (tickflow serve --tls prints it)", boot, err)
	case errors.As(err, &recErr):
		return usageError("--tls: the brokers at %s do not speak TLS on this port; drop --tls or use their TLS port", boot)
	}
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.As(err, &ne) || strings.Contains(err.Error(), "connection reset") {
		switch {
		case k.mechanism != "":
			// Brokers (kfake among them) may just close the connection on
			// a failed login instead of answering SASL_AUTHENTICATION_FAILED.
			who := k.user
			if who == "" {
				who = "the AWS credentials"
			}
			return usageError("--sasl %s --sasl-user %s: the brokers at %s closed the connection during the login (%v); check the password in $%s, the user and the mechanism (and --tls if they require it)",
				k.mechanism, who, boot, err, saslPasswordEnv)
		case !k.tls && k.caFile == "":
			return usageError("--brokers %s: the connection failed (%v); if the brokers require TLS, add --tls (and --tls-ca for a private CA)", boot, err)
		default:
			return usageError("--brokers %s: the connection failed (%v); if the brokers require SASL, add --sasl and --sasl-user", boot, err)
		}
	}
	return usageError("--brokers %s: %v", boot, err)
}

// clientOptions is options then preflight: what a command calls before it
// makes its Kafka client.
func (k *kafkaSecurity) clientOptions(ctx context.Context, stderr io.Writer, brokers []string) ([]kgo.Opt, error) {
	opts, err := k.options(ctx, stderr)
	if err != nil {
		return nil, err
	}
	if err := k.preflight(ctx, brokers, opts); err != nil {
		return nil, err
	}
	return opts, nil
}
