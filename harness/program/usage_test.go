package program

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (my (odd) prog) S 4200 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 12345 10485760 2048 18446744073709551615"
	st, err := parseStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, stat{ppid: 4200, pgid: 4242, utime: 250, stime: 50, cutime: 7, cstime: 3, rssPages: 2048}, st)
	_, err = parseStat([]byte("4242 (short) S 1 2"))
	assert.Error(t, err)
}

// A wrapper script's children are in its group: the meter sums them.
func TestMeterSumsTheProcessGroup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	// Two background children burn a little CPU, then sleep until killed.
	spin := `i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 30`
	p, err := Start("("+spin+") & ("+spin+") & wait", "", nil)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	m := NewMeter(p.Pid())
	var procs int
	var rss uint64
	require.Eventually(t, func() bool {
		rss, _, procs, err = m.Sample()
		require.NoError(t, err)
		return procs >= 3 && m.CPU() > 0
	}, 30*time.Second, 50*time.Millisecond, "want sh and its two children, with some CPU time")
	assert.Positive(t, rss)
	assert.GreaterOrEqual(t, m.PeakRSS(), rss)
	_, _, ok := p.Rusage()
	assert.False(t, ok, "no rusage while running")

	cpu := m.CPU()
	p.Signal(syscall.SIGKILL)
	<-p.Done()
	// The children, orphaned, are reaped by init a moment later.
	var after time.Duration
	require.Eventually(t, func() bool {
		_, after, procs, err = m.Sample()
		require.NoError(t, err)
		return procs == 0
	}, 10*time.Second, 20*time.Millisecond, "the group is gone after SIGKILL")
	assert.GreaterOrEqual(t, after, cpu, "CPU time of gone processes is kept")
	_, maxRSS, ok := p.Rusage()
	assert.True(t, ok)
	assert.Positive(t, maxRSS)
}
