package scenarios

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testConfig(t *testing.T) Config {
	return Config{Seed: 1, Long: os.Getenv("TICKFLOW_LONG") == "1"}
}

func TestScenarios(t *testing.T) {
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			if s.Name == "sink-kill-9" {
				t.Skip("needs the binary")
			}
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			res := s.Run(ctx, testConfig(t))
			t.Logf("%s: %s records=%d rows=%d objects=%d lost=%d dup=%d overlaps=%d gaps=%d dlq=%d/%d restarts=%d in %s notes=%v",
				s.Name, res.Status(), res.Records, res.Rows, res.Objects, res.Lost, res.Duplicated, res.Overlaps, res.Gaps, res.DLQ, res.Poison, res.Restarts, res.Duration, res.Notes)
			require.Empty(t, res.Error, "seed %d", res.Seed)
			assert.Empty(t, res.Failures, "seed %d", res.Seed)
			assert.True(t, res.Pass)
		})
	}
}
