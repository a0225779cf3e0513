package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startWorld starts a world and closes it at the end of the test.
func startWorld(t testing.TB, opts ...Option) *World {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Start(ctx, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	return w
}

// newClient returns a kgo client tuned for a fake cluster: fast metadata
// refresh and retries so leader moves are noticed quickly.
func newClient(t testing.TB, w *World, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(w.KafkaAddrs()...),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DialTimeout(2 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func TestStartDefaults(t *testing.T) {
	w := startWorld(t)
	c := w.Coordinator()

	bs := c.Brokers()
	require.Len(t, bs, DefaultBrokers)
	for i, b := range bs {
		assert.Equal(t, int32(i), b.ID)
		assert.True(t, b.Up)
		assert.Contains(t, b.Addr, "127.0.0.1:")
	}
	assert.Len(t, w.KafkaAddrs(), DefaultBrokers)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, w.S3Endpoint())
	assert.Equal(t, DefaultBucket, w.Bucket())
	assert.Equal(t, DefaultRegion, w.Region())

	ctx := context.Background()
	topics, err := c.Topics(ctx)
	require.NoError(t, err)
	require.Len(t, topics, 1)
	assert.Equal(t, DefaultTopic, topics[0].Name)
	require.Len(t, topics[0].Partitions, DefaultPartitions)
	for i, p := range topics[0].Partitions {
		assert.Equal(t, int32(i), p.Partition)
		assert.GreaterOrEqual(t, p.Leader, int32(0))
		assert.Less(t, p.Leader, int32(DefaultBrokers))
	}

	// The bucket exists and is empty.
	store := newStore(t, w)
	objs, err := store.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, objs)
}

func TestStartTopicsOption(t *testing.T) {
	w := startWorld(t, Brokers(1), Topic("a", 2), Topic("b.c", 3))
	topics, err := w.Coordinator().Topics(context.Background())
	require.NoError(t, err)
	got := map[string]int{}
	for _, tp := range topics {
		got[tp.Name] = len(tp.Partitions)
	}
	assert.Equal(t, map[string]int{"a": 2, "b.c": 3}, got)
}

func TestStartOptionErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name string
		opts []Option
		want string // must appear in the error: the option and the fix
	}{
		{"zero brokers", []Option{Brokers(0)}, "Brokers(0)"},
		{"too many brokers", []Option{Brokers(17)}, "1..16"},
		{"zero partitions", []Option{Partitions(0)}, "Partitions(0)"},
		{"topic partitions", []Option{Topic("x", 0)}, "at least 1"},
		{"bad topic", []Option{Topic("bad topic", 1)}, `Topic("bad topic")`},
		{"duplicate topic", []Option{Topic("x", 1), Topic("x", 2)}, "given twice"},
		{"kafka addr no port", []Option{KafkaAddr("127.0.0.1")}, "KafkaAddr"},
		{"kafka addr bad port", []Option{KafkaAddr("127.0.0.1:99999")}, "0..65535"},
		{"kafka addr hostname", []Option{KafkaAddr("example.com:9092")}, "not an IP"},
		{"kafka addr unspecified", []Option{KafkaAddr("0.0.0.0:9092")}, "unspecified"},
		{"kafka ports overflow", []Option{KafkaAddr("127.0.0.1:65534")}, "beyond 65535"},
		{"s3 addr", []Option{S3Addr("nope")}, "S3Addr"},
		{"bucket upper", []Option{Bucket("Lake")}, "Bucket(\"Lake\")"},
		{"bucket short", []Option{Bucket("ab")}, "3..63"},
		{"bucket ip", []Option{Bucket("10.0.0.1")}, "IP address"},
		{"data dir is a file", []Option{DataDir(filepath.Join(file, "sub"))}, "DataDir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Start(context.Background(), tt.opts...)
			if w != nil {
				w.Close()
			}
			require.Error(t, err)
			assert.Nil(t, w)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestStartCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := Start(ctx)
	require.Error(t, err)
	assert.Nil(t, w)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestStartPortConflict(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"kafka first port", KafkaAddr(taken.Addr().String()), "KafkaAddr"},
		{"kafka later port", KafkaAddr("127.0.0.1:" + strconv.Itoa(port-1)), "KafkaAddr"},
		{"s3", S3Addr(taken.Addr().String()), "S3Addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Start(context.Background(), Brokers(2), tt.opt)
			if w != nil {
				w.Close()
			}
			require.Error(t, err)
			if errors.Is(err, ErrAddrInUse) {
				assert.Contains(t, err.Error(), tt.want)
				return
			}
			// port-1 may itself be taken by something else; only then is
			// another error acceptable.
			require.Equal(t, "kafka later port", tt.name, "unexpected error: %v", err)
		})
	}
}

func TestCloseIdempotentConcurrent(t *testing.T) {
	w, err := Start(context.Background(), Brokers(2))
	require.NoError(t, err)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- w.Close() }()
	}
	for range 4 {
		assert.NoError(t, <-errs)
	}
	assert.NoError(t, w.Close())
	assert.ErrorIs(t, w.Coordinator().StopBroker(0), ErrClosed)
	assert.ErrorIs(t, w.Coordinator().ShuffleLeaders(), ErrClosed)
}

func TestFixedPortsConsecutive(t *testing.T) {
	port := freePortRun(t, 3)
	w := startWorld(t, KafkaAddr(fmt.Sprintf("127.0.0.1:%d", port)))
	want := []string{
		fmt.Sprintf("127.0.0.1:%d", port),
		fmt.Sprintf("127.0.0.1:%d", port+1),
		fmt.Sprintf("127.0.0.1:%d", port+2),
	}
	assert.Equal(t, want, w.KafkaAddrs())
}

// freePortRun finds n consecutive free ports (best effort: they are
// released before use, as with any "free port" helper).
func freePortRun(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := base+n-1 <= 65535
		for i := 1; ok && i < n; i++ {
			li, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, li)
		}
		for _, li := range ls {
			li.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports found")
	return 0
}

func TestGroupMinSessionTimeout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		opts    []Option
		session time.Duration
		ok      bool
	}{
		{"kafka default refuses 1s", nil, time.Second, false},
		{"lowered accepts 1s", []Option{GroupMinSessionTimeout(100 * time.Millisecond)}, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Start(ctx, tc.opts...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = w.Close() })
			cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...), kgo.ConsumerGroup("g"),
				kgo.ConsumeTopics(DefaultTopic), kgo.SessionTimeout(tc.session), kgo.HeartbeatInterval(tc.session/4))
			require.NoError(t, err)
			t.Cleanup(cl.Close)
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			// Join errors surface through PollFetches; a generation means joined.
			var joinErr error
			for joinErr == nil && fctx.Err() == nil {
				pctx, pcancel := context.WithTimeout(fctx, 100*time.Millisecond)
				fs := cl.PollFetches(pctx)
				pcancel()
				fs.EachError(func(_ string, _ int32, err error) {
					if !errors.Is(err, context.DeadlineExceeded) {
						joinErr = err
					}
				})
				if _, gen := cl.GroupMetadata(); gen > 0 {
					break
				}
			}
			if tc.ok {
				assert.NoError(t, joinErr)
				_, gen := cl.GroupMetadata()
				assert.Positive(t, gen, "joined the group")
			} else {
				assert.ErrorIs(t, joinErr, kerr.InvalidSessionTimeout)
			}
		})
	}
	_, err := Start(ctx, GroupMinSessionTimeout(0))
	assert.ErrorContains(t, err, "GroupMinSessionTimeout")
}
