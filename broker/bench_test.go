package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tickflow/tickflow/harness/objstore"
)

// BenchmarkStart measures starting and closing the whole world: three
// brokers, the default topic, the S3 server and its bucket.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		w, err := Start(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartDataDir is BenchmarkStart with persistence (kfake segments
// and the bolt file) in a fresh directory each time.
func BenchmarkStartDataDir(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		w, err := Start(ctx, DataDir(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkS3Put measures 1 MiB PUTs through the SDK with the signature and
// payload checks on (the default) and off: the cost of checking SigV4.
func BenchmarkS3Put(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for _, auth := range []bool{true, false} {
		b.Run(fmt.Sprintf("auth=%v", auth), func(b *testing.B) {
			w, err := Start(context.Background(), Brokers(1), S3Auth(auth))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(),
				AccessKey: AccessKey, SecretKey: SecretKey, MaxAttempts: 1})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			i := 0
			for b.Loop() {
				if err := st.Put(context.Background(), fmt.Sprintf("k/%d", i%64), body, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
