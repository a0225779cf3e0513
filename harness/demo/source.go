package demo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/produce"
)

// sampleName names the embedded sample in messages and the summary.
const sampleName = "indexProcessed-HSI.csv"

// BadRow is one input row the producer skipped.
type BadRow struct {
	Line    int    `json:"line"`
	Problem string `json:"problem"`
}

// source is the demo's tick source: what it is, how many good ticks it will
// yield (known before producing, so progress has a total) and its bad rows.
type source struct {
	desc    string
	total   int64
	skipped int
	bad     []BadRow
	open    func() (produce.Source, io.Closer, error)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// newSource resolves cfg into a source. A CSV is read once here to count its
// good and bad rows (streaming, so a large file costs time, not memory) and
// again while producing.
func newSource(cfg Config) (*source, error) {
	if cfg.Records > 0 {
		n, seed := cfg.Records, cfg.Seed
		return &source{
			desc:  fmt.Sprintf("%s synthetic ticks (random walk over 14 indexes, seed %d)", group(int64(n)), seed),
			total: int64(n),
			open: func() (produce.Source, io.Closer, error) {
				return produce.Synthetic(n, seed), nopCloser{}, nil
			},
		}, nil
	}
	var (
		name string
		desc string
		open func() (io.ReadCloser, error)
	)
	if cfg.CSV == "" {
		name, desc = sampleName, "Hang Seng index sample "+sampleName+" (embedded)"
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tickflow.SampleCSV)), nil }
	} else {
		name, desc = filepath.Base(cfg.CSV), "CSV file "+cfg.CSV
		open = func() (io.ReadCloser, error) {
			f, err := os.Open(cfg.CSV)
			if err != nil {
				return nil, fmt.Errorf("%w: csv file %s: %v", ErrInvalid, cfg.CSV, err)
			}
			return f, nil
		}
	}
	src := &source{desc: desc}
	openCSV := func() (*produce.CSV, io.Closer, error) {
		rc, err := open()
		if err != nil {
			return nil, nil, err
		}
		c, err := produce.NewCSV(rc, name)
		if err != nil {
			rc.Close()
			if errors.Is(err, produce.ErrBadInput) {
				return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			return nil, nil, err
		}
		return c, rc, nil
	}
	c, closer, err := openCSV()
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	for {
		_, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		src.total++
	}
	src.skipped = c.Skipped()
	for _, e := range c.BadRows() {
		src.bad = append(src.bad, BadRow{Line: e.Line, Problem: e.Problem})
	}
	if src.total == 0 {
		return nil, fmt.Errorf("%w: %s has no good rows (%d bad rows skipped)", ErrInvalid, name, src.skipped)
	}
	src.open = func() (produce.Source, io.Closer, error) {
		c, closer, err := openCSV()
		if err != nil {
			return nil, nil, err
		}
		return c, closer, nil
	}
	return src, nil
}
