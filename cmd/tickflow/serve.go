package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/lake"
)

func init() { register(newServeCmd) }

// shutdownTimeout bounds World.Close after a signal, so a stuck listener
// cannot turn Ctrl-C into a hang.
const shutdownTimeout = 15 * time.Second

type serveFlags struct {
	brokers    int
	kafkaAddr  string
	s3Addr     string
	dataDir    string
	topic      string
	partitions int
	bucket     string
	json       bool
	verbose    bool
	ui         uiFlag
	s3Auth     string
	tls        bool
	sasl       string
	saslUser   string
	prefix     string // the dashboard's Lake panel: the folder it watches
	table      string // the dashboard's contract check: a table definition file
}

// serveSASLPassword is serve --sasl's password unless $TICKFLOW_SASL_PASSWORD
// sets another: fixed and printed, like the S3 keys.
const serveSASLPassword = "tickflow-secret"

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded world (multi-broker Kafka + S3) until Ctrl-C and print how to connect",
		Long: `serve starts N fake Kafka brokers and a fake S3 on loopback, prints the
bootstrap servers, S3 endpoint, region, bucket and credentials with
copy-paste examples for kcat, the aws CLI, kafka-python and boto3, and runs
until SIGINT or SIGTERM. Topics are created on first use, like a stock Kafka
broker. With --data-dir, records, committed offsets and objects survive a
restart. --kafka-addr gives the first broker's address; the others take the
next ports. Port 0 picks random free ports.`,
		Example: `  tickflow serve
  tickflow serve --json --kafka-addr 127.0.0.1:0 --s3-addr 127.0.0.1:0
  tickflow serve --brokers 5 --data-dir ./world
  tickflow serve --prefix warehouse            # the dashboard watches s3://tickflow-lake/warehouse/stock_ticks/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.ui.explicit = cmd.Flags().Changed("ui")
			return runServe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.brokers, "brokers", broker.DefaultBrokers, "number of Kafka brokers (1 to 16)")
	fl.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "address of the first broker; broker i listens on the port after broker i-1 (port 0: random ports)")
	fl.StringVar(&f.s3Addr, "s3-addr", "127.0.0.1:9000", "address of the S3 endpoint (port 0: a random port)")
	fl.StringVar(&f.dataDir, "data-dir", "", "keep Kafka records, committed offsets and S3 objects in this directory across restarts (default: in memory)")
	fl.StringVar(&f.topic, "topic", broker.DefaultTopic, "topic created at start (others are created on first use)")
	fl.IntVar(&f.partitions, "partitions", broker.DefaultPartitions, "partitions of --topic and of auto-created topics")
	fl.StringVar(&f.bucket, "bucket", broker.DefaultBucket, "S3 bucket created at start")
	fl.BoolVar(&f.json, "json", false, "print the connection info as one JSON object on stdout")
	fl.BoolVar(&f.verbose, "verbose", false, "log broker and S3 activity to stderr")
	fl.BoolVar(&f.tls, "tls", false, "brokers speak TLS only: a CA and server certificate are generated at start (in --data-dir/tls or a temporary folder) and their paths printed")
	fl.StringVar(&f.sasl, "sasl", "", "brokers require SASL: plain, scram-sha-256 or scram-sha-512 (user --sasl-user, password tickflow-secret or $"+saslPasswordEnv+")")
	fl.StringVar(&f.saslUser, "sasl-user", "tickflow", "the SASL user --sasl creates")
	fl.StringVar(&f.s3Auth, "s3-auth", "on", "on: S3 checks AWS Signature V4 against the printed keys and region, as AWS does; off: any request is accepted, signed or not")
	addUIFlag(fl, &f.ui, dashboard.DefaultAddr, "serve the live dashboard and Prometheus /metrics on this address")
	fl.StringVar(&f.prefix, "prefix", "", "the bucket folder the dashboard's Lake panel and contract check watch: one that holds stock_ticks/ (as sink --prefix writes) or a table's own folder (default: stock_ticks/ at the bucket root; the page can switch)")
	fl.StringVar(&f.table, "table", "", "check the dashboard's lake against this table definition (Athena DDL or aws glue get-table JSON, as verify --table) instead of the built-in stock_ticks contract")
	return cmd
}

func runServe(ctx context.Context, stdout, stderr io.Writer, f serveFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	target, err := f.lakeTarget()
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	opts := []broker.Option{
		broker.Brokers(f.brokers),
		broker.KafkaAddr(f.kafkaAddr),
		broker.S3Addr(f.s3Addr),
		broker.Topic(f.topic, f.partitions),
		broker.Partitions(f.partitions),
		broker.Bucket(f.bucket),
		broker.AutoCreateTopics(true),
		broker.Logger(logger),
		broker.S3Auth(f.s3Auth != "off"),
	}
	if f.dataDir != "" {
		opts = append(opts, broker.DataDir(f.dataDir))
	}
	if f.tls {
		dir := ""
		if f.dataDir != "" {
			dir = filepath.Join(f.dataDir, "tls")
		}
		opts = append(opts, broker.KafkaTLS(dir))
	}
	if f.sasl != "" {
		opts = append(opts, broker.KafkaSASL(f.saslMechanism(), f.saslUser, f.saslPassword()))
	}
	w, err := broker.Start(ctx, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil // SIGINT/SIGTERM during start-up: a requested stop, not a failure
		}
		// Start fails only on bad options or an environment that keeps
		// the world from running (a port taken since validate, a data
		// directory locked by another serve): both are exit 2, and the
		// message already names the flag and the fix.
		var ce *broker.ConfigError
		if errors.As(err, &ce) {
			return usageError("%s %v: %v", ce.Flag, ce.Value, ce.Err)
		}
		return usageError("serve: %v", err)
	}

	ui, uiNote, err := startUI(ctx, f.ui, logger)
	if err == nil && ui != nil {
		target.World = w
		if err = ui.Watch(ctx, target); err != nil {
			ui.Close()
		}
	}
	if err != nil {
		_ = w.Close()
		return err
	}
	if ui != nil {
		defer ui.Close() // on the error paths; idempotent
	}

	info := newServeInfo(w, f)
	if ui != nil {
		info.UIURL, info.uiNote = ui.URL(), uiNote
	}
	if n, ok := topicPartitions(ctx, w, f.topic); ok && n != f.partitions {
		// A --data-dir world keeps the topic it was created with.
		info.Partitions = n
		fmt.Fprintf(stderr, "tickflow serve: warning: topic %s in --data-dir %s already has %d partitions; --partitions %d did not apply to it (only to topics created from now on); use a new --data-dir for %d\n",
			f.topic, f.dataDir, n, f.partitions, f.partitions)
	}
	if f.json {
		err = json.NewEncoder(stdout).Encode(info)
	} else {
		err = info.writeText(stdout)
	}
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("serve: print connection info: %w", err)
	}

	<-ctx.Done()
	logger.Info("serve: shutting down")
	if ui != nil {
		_ = ui.Close() // the page stops before the world it shows
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			return fmt.Errorf("serve: shut down: %w", err)
		}
		if !f.json {
			fmt.Fprintln(stderr, "tickflow serve: stopped")
		}
		return nil
	case <-time.After(shutdownTimeout):
		return fmt.Errorf("serve: shut down: world did not close within %s", shutdownTimeout)
	}
}

// topicPartitions returns the number of partitions topic really has.
func topicPartitions(ctx context.Context, w *broker.World, topic string) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topics, err := w.Coordinator().Topics(ctx)
	if err != nil {
		return 0, false
	}
	for _, t := range topics {
		if t.Name == topic {
			return len(t.Partitions), true
		}
	}
	return 0, false
}

// validate catches, before anything starts, what broker.Start cannot name
// precisely: a port that is taken or an address that is not on this
// machine (the exact port and flag, not just a bind error), and an S3 port
// inside the brokers' range. broker.Start validates everything else (names,
// counts, address syntax, --data-dir) before it binds anything, so bad input
// never leaves a half-started world behind.
func (f serveFlags) validate() error {
	if f.s3Auth != "" && f.s3Auth != "on" && f.s3Auth != "off" {
		return usageError("--s3-auth %q: want on or off", f.s3Auth)
	}
	if f.sasl != "" && f.saslMechanism() == "" {
		return usageError("--sasl %q: want plain, scram-sha-256 or scram-sha-512", f.sasl)
	}
	if f.sasl != "" && strings.TrimSpace(f.saslUser) == "" {
		return usageError("--sasl-user is empty: name the user --sasl creates")
	}
	if f.brokers < 1 || f.brokers > broker.MaxBrokers {
		return usageError("--brokers %d: must be between 1 and %d", f.brokers, broker.MaxBrokers)
	}
	kafka, kok := parseAddr(f.kafkaAddr)
	s3, sok := parseAddr(f.s3Addr)
	if !kok || !sok {
		return nil // malformed: broker.Start says how
	}
	if kafka.Port() != 0 && s3.Port() != 0 && kafka.Addr() == s3.Addr() &&
		s3.Port() >= kafka.Port() && int(s3.Port()) < int(kafka.Port())+f.brokers {
		return usageError("--s3-addr %s: port %d is one of the %d broker ports from --kafka-addr %s; pick a port outside %d-%d",
			f.s3Addr, s3.Port(), f.brokers, f.kafkaAddr, kafka.Port(), int(kafka.Port())+f.brokers-1)
	}
	if err := checkBindable("--kafka-addr", kafka, f.brokers); err != nil {
		return err
	}
	return checkBindable("--s3-addr", s3, 1)
}

// lakeTarget is what the dashboard's Lake panel watches: --prefix and the
// table --table defines.
func (f serveFlags) lakeTarget() (dashboard.Target, error) {
	t := dashboard.Target{Prefix: f.prefix}
	if err := dashboard.ValidPrefix(f.prefix); err != nil {
		return t, usageError("--prefix %q: %v", f.prefix, err)
	}
	if f.table != "" {
		b, err := os.ReadFile(f.table)
		if err != nil {
			return t, usageError("--table: %v", err)
		}
		if t.Table, err = lake.ParseTable(f.table, b); err != nil {
			return t, usageError("--table: %v", err)
		}
	}
	return t, nil
}

// saslMechanism maps --sasl to the broker's mechanism name ("" if unknown).
func (f serveFlags) saslMechanism() string {
	switch strings.ToLower(f.sasl) {
	case "plain":
		return broker.SASLPlain
	case "scram-sha-256":
		return broker.SASLScramSHA256
	case "scram-sha-512":
		return broker.SASLScramSHA512
	}
	return ""
}

func (f serveFlags) saslPassword() string {
	if p := os.Getenv(saslPasswordEnv); p != "" {
		return p
	}
	return serveSASLPassword
}

// parseAddr parses IP:PORT; ok is false for anything broker.Start would refuse
// or resolve itself (names, ports out of range or past 65535 for n brokers).
func parseAddr(s string) (netip.AddrPort, bool) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

// checkBindable binds and releases the n consecutive ports from first (one
// random port when first's port is 0, which proves the IP is local). The
// short race this leaves is covered by broker.ErrAddrInUse from Start.
func checkBindable(flag string, first netip.AddrPort, n int) error {
	if first.Port() == 0 {
		n = 1
	}
	if int(first.Port())+n-1 > 65535 {
		return nil // broker.Start reports the overflow
	}
	for i := range n {
		addr := netip.AddrPortFrom(first.Addr(), first.Port()+uint16(i)).String()
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			continue
		}
		what := addr
		if n > 1 {
			what = fmt.Sprintf("%s (broker %d of %d)", addr, i+1, n)
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			return usageError("%s: %s is already in use; stop what holds it or pick another port (port 0 picks a free one)", flag, what)
		}
		return usageError("%s: cannot listen on %s: %v; use an address of this machine such as 127.0.0.1", flag, what, unwrapOp(err))
	}
	return nil
}

// unwrapOp drops net.OpError's "listen tcp ADDR:" prefix, which would repeat
// the address the message already names.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// serveInfo is what serve prints: everything a client needs, plus
// copy-paste examples. With --json it is the one JSON object on stdout.
type serveInfo struct {
	KafkaBootstrap   string   `json:"kafka_bootstrap"` // comma-separated, as clients take it
	KafkaBrokers     []string `json:"kafka_brokers"`
	Topic            string   `json:"topic"`
	Partitions       int      `json:"partitions"`
	AutoCreateTopics bool     `json:"auto_create_topics"`
	S3Endpoint       string   `json:"s3_endpoint"`
	Region           string   `json:"region"`
	Bucket           string   `json:"bucket"`
	AccessKey        string   `json:"access_key"`
	SecretKey        string   `json:"secret_key"`
	S3Auth           string   `json:"s3_auth"` // "sigv4": signatures checked; "off": anything accepted
	// KafkaSecurity is the Kafka security.protocol clients need:
	// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	KafkaSecurity string           `json:"kafka_security_protocol"`
	TLS           *broker.TLSFiles `json:"tls,omitempty"`      // --tls: the CA clients trust, the brokers' certificate and key
	SASL          *serveSASLInfo   `json:"sasl,omitempty"`     // --sasl: the login clients use
	DataDir       string           `json:"data_dir,omitempty"` // empty: in memory
	UIURL         string           `json:"ui_url,omitempty"`   // the dashboard; empty with --ui off
	uiNote        string           // why the dashboard is not on --ui's default address
	Examples      serveExample     `json:"examples"`
}

// serveSASLInfo is the SASL login serve --sasl created.
type serveSASLInfo struct {
	Mechanism string `json:"mechanism"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	User      string `json:"user"`
	Password  string `json:"password"`
}

// serveExample holds runnable commands and snippets: each is exactly what a
// user would paste, and the interop test runs them as printed.
type serveExample struct {
	KcatMetadata string `json:"kcat_metadata"`
	KcatProduce  string `json:"kcat_produce"`
	KcatConsume  string `json:"kcat_consume"`
	AWSCopy      string `json:"aws_cp"`
	AWSList      string `json:"aws_ls"`
	KafkaPython  string `json:"kafka_python"`
	Boto3        string `json:"boto3"`
	// TickflowProduce produces the embedded sample with tickflow's own
	// client, security flags included.
	TickflowProduce string `json:"tickflow_produce"`
}

func newServeInfo(w *broker.World, f serveFlags) serveInfo {
	addrs := w.KafkaAddrs()
	boot := strings.Join(addrs, ",")
	in := serveInfo{
		KafkaBootstrap:   boot,
		KafkaBrokers:     addrs,
		Topic:            f.topic,
		Partitions:       f.partitions,
		AutoCreateTopics: true,
		S3Endpoint:       w.S3Endpoint(),
		Region:           w.Region(),
		Bucket:           w.Bucket(),
		AccessKey:        broker.AccessKey,
		SecretKey:        broker.SecretKey,
		S3Auth:           "sigv4",
		DataDir:          absPath(f.dataDir),
	}
	if f.s3Auth == "off" {
		in.S3Auth = "off"
	}
	in.KafkaSecurity = "PLAINTEXT"
	var kcatSec, pySec, tfSec, tfEnv string // security settings per client
	if files, ok := w.TLSFiles(); ok {
		in.TLS = &files
		in.KafkaSecurity = "SSL"
		kcatSec += " -X ssl.ca.location=" + shellQuote(files.CAFile)
		pySec += fmt.Sprintf(", ssl_cafile=%s", pyQuote(files.CAFile))
		tfSec += " --tls-ca " + shellQuote(files.CAFile)
	}
	if mech, user, pass, ok := w.SASLUser(); ok {
		in.SASL = &serveSASLInfo{Mechanism: mech, User: user, Password: pass}
		if in.KafkaSecurity == "SSL" {
			in.KafkaSecurity = "SASL_SSL"
		} else {
			in.KafkaSecurity = "SASL_PLAINTEXT"
		}
		kcatSec += fmt.Sprintf(" -X sasl.mechanisms=%s -X sasl.username=%s -X sasl.password=%s", mech, shellQuote(user), shellQuote(pass))
		pySec += fmt.Sprintf(", sasl_mechanism=%s, sasl_plain_username=%s, sasl_plain_password=%s", pyQuote(mech), pyQuote(user), pyQuote(pass))
		tfSec += fmt.Sprintf(" --sasl %s --sasl-user %s", strings.ToLower(mech), shellQuote(user))
		tfEnv = saslPasswordEnv + "=" + shellQuote(pass) + " "
	}
	if in.KafkaSecurity != "PLAINTEXT" {
		kcatSec = " -X security.protocol=" + strings.ToLower(in.KafkaSecurity) + kcatSec
		pySec = fmt.Sprintf(", security_protocol=%s", pyQuote(in.KafkaSecurity)) + pySec
	}
	awsEnv := fmt.Sprintf("AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s",
		shellQuote(in.AccessKey), shellQuote(in.SecretKey), shellQuote(in.Region))
	sample := `{"symbol":"HSI","trade_date":"2010-01-11","open":22300.5,"high":22450.1,"low":22250.0,"close":22411.5,"adj_close":22411.5,"volume":0,"close_usd":2891.1}`
	pyList := "[" + pyQuoteList(addrs) + "]"
	in.Examples = serveExample{
		KcatMetadata: fmt.Sprintf("kcat -b %s%s -L", boot, kcatSec),
		KcatProduce:  fmt.Sprintf("echo %s | kcat -b %s%s -t %s -P", shellQuote(sample), boot, kcatSec, in.Topic),
		KcatConsume:  fmt.Sprintf("kcat -b %s%s -t %s -C -o beginning -e", boot, kcatSec, in.Topic),
		AWSCopy:      fmt.Sprintf("echo hello > hello.txt && %s aws --endpoint-url %s s3 cp hello.txt s3://%s/hello.txt", awsEnv, in.S3Endpoint, in.Bucket),
		AWSList:      fmt.Sprintf("%s aws --endpoint-url %s s3 ls s3://%s/", awsEnv, in.S3Endpoint, in.Bucket),
		KafkaPython: fmt.Sprintf(`from json import dumps
from kafka import KafkaProducer
producer = KafkaProducer(bootstrap_servers=%s%s, value_serializer=lambda x: dumps(x).encode('utf-8'))
producer.send('%s', value={'symbol': 'HSI', 'trade_date': '2010-01-11', 'close': 22411.5})
producer.flush()`, pyList, pySec, in.Topic),
		Boto3: fmt.Sprintf(`import boto3
s3 = boto3.client('s3', endpoint_url='%s', region_name='%s', aws_access_key_id='%s', aws_secret_access_key='%s')
s3.put_object(Bucket='%s', Key='hello.txt', Body=b'hello')
print([o['Key'] for o in s3.list_objects_v2(Bucket='%s').get('Contents', [])])`,
			in.S3Endpoint, in.Region, in.AccessKey, in.SecretKey, in.Bucket, in.Bucket),
		TickflowProduce: fmt.Sprintf("%stickflow produce --brokers %s%s --topic %s", tfEnv, boot, tfSec, in.Topic),
	}
	return in
}

// absPath makes a --data-dir usable from any working directory; on the
// (unlikely) error it keeps what the user typed.
func absPath(dir string) string {
	if dir == "" {
		return ""
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

func (in serveInfo) writeText(w io.Writer) error {
	storage := "in memory; gone at exit"
	if in.DataDir != "" {
		storage = "kept in " + in.DataDir
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickflow serve: %d Kafka brokers and S3 are up (data %s)\n\n", len(in.KafkaBrokers), storage)
	fmt.Fprintf(&b, "Kafka\n")
	fmt.Fprintf(&b, "  bootstrap servers  %s\n", in.KafkaBootstrap)
	fmt.Fprintf(&b, "  topic              %s (%d partitions; other topics are created on first use)\n", in.Topic, in.Partitions)
	fmt.Fprintf(&b, "  security.protocol  %s\n", in.KafkaSecurity)
	if in.TLS != nil {
		fmt.Fprintf(&b, "  TLS CA             %s   (trust this; generated at start)\n", in.TLS.CAFile)
		fmt.Fprintf(&b, "  TLS cert / key     %s / %s\n", in.TLS.CertFile, in.TLS.KeyFile)
	}
	if in.SASL != nil {
		fmt.Fprintf(&b, "  SASL %-13s user %s, password %s\n", in.SASL.Mechanism, in.SASL.User, in.SASL.Password)
	}
	if in.S3Auth == "off" {
		fmt.Fprintf(&b, "S3 (path-style; --s3-auth off: ANY request is accepted, signed or not, with any keys)\n")
	} else {
		fmt.Fprintf(&b, "S3 (path-style; AWS Signature V4 checked against these keys and region, as AWS does)\n")
	}
	fmt.Fprintf(&b, "  endpoint           %s\n", in.S3Endpoint)
	fmt.Fprintf(&b, "  region             %s\n", in.Region)
	fmt.Fprintf(&b, "  bucket             %s\n", in.Bucket)
	fmt.Fprintf(&b, "  access key         %s\n", in.AccessKey)
	fmt.Fprintf(&b, "  secret key         %s\n\n", in.SecretKey)
	if in.UIURL != "" {
		fmt.Fprintf(&b, "Dashboard\n  %s   (Prometheus metrics: %smetrics)\n", in.UIURL, in.UIURL)
		if in.uiNote != "" {
			fmt.Fprintf(&b, "  (%s)\n", in.uiNote)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "kcat\n  %s\n  %s\n  %s\n\n", in.Examples.KcatMetadata, in.Examples.KcatProduce, in.Examples.KcatConsume)
	fmt.Fprintf(&b, "aws CLI\n  %s\n  %s\n\n", in.Examples.AWSCopy, in.Examples.AWSList)
	fmt.Fprintf(&b, "Python (kafka-python)\n%s\n\n", indent(in.Examples.KafkaPython))
	fmt.Fprintf(&b, "Python (boto3)\n%s\n\n", indent(in.Examples.Boto3))
	fmt.Fprintf(&b, "tickflow (sink and verify take the same Kafka flags)\n  %s\n\n", in.Examples.TickflowProduce)
	fmt.Fprintf(&b, "%s\n", serveReadyLine)
	_, err := io.WriteString(w, b.String())
	return err
}

// serveReadyLine ends the text output, so scripts reading it know it is complete.
const serveReadyLine = "Ready. Press Ctrl-C to stop."

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pyQuote quotes s as a Python string literal.
func pyQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func pyQuoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}
