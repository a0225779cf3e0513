package program

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseStatus(t *testing.T) {
	doc := []byte("Name:\tbench\nVmHWM:\t  123456 kB\nVmRSS:\t   1000 kB\nThreads:\t7\n")
	cases := []struct {
		field string
		want  uint64
	}{{"VmHWM", 123456 * 1024}, {"VmRSS", 1000 * 1024}, {"Threads", 7}, {"VmSwap", 0}}
	for _, tc := range cases {
		assert.Equal(t, tc.want, parseStatus(doc, tc.field), tc.field)
	}
}

func TestStatusField(t *testing.T) {
	self := StatusField(0, "VmHWM")
	assert.Greater(t, self, uint64(1<<20), "this test process's own peak RSS")
	assert.Equal(t, self > 0, StatusField(os.Getpid(), "VmHWM") > 0)
	assert.Zero(t, StatusField(0, "NoSuchField"))
}
