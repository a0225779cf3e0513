package broker

import (
	"context"
	"testing"
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
