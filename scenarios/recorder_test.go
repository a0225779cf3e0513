package scenarios

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/program"
)

func signed(req *http.Request, instance int) *http.Request {
	access, _ := program.Credentials(instance)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+access+"/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x")
	return req
}

func TestRecorderObserve(t *testing.T) {
	fetched := map[string][]byte{"lake/multi.json": []byte(`{"volume":9}`), "lake/copy.json": []byte(`{"volume":10}`)}
	r := newRecorder("b", func(_ context.Context, key string) ([]byte, error) { return fetched[key], nil })
	var hooked []string
	r.setOnWrite(func(w s3Write) { hooked = append(hooked, w.Op+" "+w.Key) })

	put := signed(httptest.NewRequest(http.MethodPut, "/b/lake/a.json", nil), 2)
	r.observe(put, []byte(`{"volume":1}`), 200)
	r.observe(signed(httptest.NewRequest(http.MethodPut, "/b/lake/refused.json", nil), 2), []byte("x"), 412)
	r.observe(signed(httptest.NewRequest(http.MethodPut, "/b/lake/big.json?partNumber=1&uploadId=u", nil), 1), []byte("part"), 200)
	r.observe(signed(httptest.NewRequest(http.MethodPost, "/b/lake/multi.json?uploadId=u", nil), 1), []byte("<Complete/>"), 200)
	cp := signed(httptest.NewRequest(http.MethodPut, "/b/lake/copy.json", nil), 0)
	cp.Header.Set("x-amz-copy-source", "/b/lake/a.json")
	r.observe(cp, nil, 200)
	r.observe(signed(httptest.NewRequest(http.MethodDelete, "/b/lake/a.json", nil), 3), nil, 204)
	r.observe(signed(httptest.NewRequest(http.MethodPost, "/b/?delete", nil), 3),
		[]byte(`<Delete><Object><Key>lake/x.json</Key></Object><Object><Key>lake/y.json</Key></Object></Delete>`), 200)
	presigned := httptest.NewRequest(http.MethodPut, "/b/lake/pre.json?X-Amz-Credential="+strings.ReplaceAll(func() string { a, _ := program.Credentials(4); return a }()+"/20260101/us-east-1/s3/aws4_request", "/", "%2F"), nil)
	r.observe(presigned, []byte(`{"volume":11}`), 200)
	unsigned := httptest.NewRequest(http.MethodGet, "/b/lake/a.json", nil)
	r.observe(unsigned, nil, 200) // a read is not a write

	writes, _ := r.snapshot()
	type w struct {
		op, key string
		inst    int
		body    string
	}
	var got []w
	for _, x := range writes {
		got = append(got, w{x.Op, x.Key, x.Instance, string(x.body)})
		assert.WithinDuration(t, time.Now(), x.At, time.Minute)
	}
	assert.Equal(t, []w{
		{"put", "lake/a.json", 2, `{"volume":1}`},
		{"multipart", "lake/multi.json", 1, `{"volume":9}`},
		{"copy", "lake/copy.json", 0, `{"volume":10}`},
		{"delete", "lake/a.json", 3, ""},
		{"delete", "lake/x.json", 3, ""},
		{"delete", "lake/y.json", 3, ""},
		{"put", "lake/pre.json", 4, `{"volume":11}`},
	}, got)
	assert.Len(t, hooked, len(got), "the hook hears every accepted write")
	assert.False(t, r.lastWrite().IsZero())
}

// judgeWrites: an overwrite that drops records, and a commit that covers a
// record before it was in S3.
func TestJudgeWrites(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	e := &env{}
	prod := map[int64]produced{}
	expected := map[int64]expectedTick{}
	for seq := int64(0); seq < 4; seq++ {
		prod[seq] = produced{RecordRef: RecordRef{Partition: 0, Offset: seq, Key: "HSI", Sequence: seq}}
		expected[seq] = expectedTick{symbol: "HSI"}
	}
	writes := []s3Write{
		{At: at(0), Op: "put", Key: "m_0.json", Instance: 0, body: []byte(`{"symbol":"HSI","volume":0}`)},
		{At: at(10), Op: "put", Key: "m_1.json", Instance: 0, body: []byte(`{"symbol":"HSI","volume":1}`)},
		// instance 1 restarts its counter: m_0 now holds record 2, record 0 is gone
		{At: at(50), Op: "put", Key: "m_0.json", Instance: 1, body: []byte(`{"symbol":"HSI","volume":2}`)},
		{At: at(60), Op: "put", Key: "m_1.json", Instance: 1, body: []byte(`{"symbol":"HSI","volume":1}`)}, // same content: not an overwrite
		{At: at(70), Op: "put", Key: "m_3.json", Instance: 1, body: []byte(`{"symbol":"HSI","volume":3}`)},
	}
	commits := []commitSeen{
		{At: at(20), Partition: 0, Offset: 2}, // 0 and 1 in S3 already
		{At: at(40), Partition: 0, Offset: 4}, // 2 lands at 50, 3 at 70: both ahead
		{At: at(80), Partition: 0, Offset: 4},
	}
	final := map[int64][]string{1: {"m_1.json"}, 2: {"m_0.json"}, 3: {"m_3.json"}}
	v := &Verdict{}
	e.judgeWrites(v, writes, commits, prod, expected, final)
	assert.Equal(t, 1, v.Overwritten)
	require.Len(t, v.OverwriteExamples, 1)
	assert.Equal(t, OverwriteExample{Object: "m_0.json", Instances: []int{0, 1}, Versions: 2, Dropped: 1}, v.OverwriteExamples[0])
	assert.Equal(t, int64(2), v.CommitsAhead)
	require.Len(t, v.CommitAheadExamples, 2)
	assert.Equal(t, int64(2), v.CommitAheadExamples[0].Record.Offset)
	assert.Equal(t, "10ms after the commit", v.CommitAheadExamples[0].Landed)
}

// A write for a partition its writer had owned and lost is a write after
// fencing; a write while it owns it, or for a partition it never owned, is
// not.
func TestFencedWrites(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	o := &ownership{snaps: []ownSnap{
		{at: at(0), owner: map[int32]int{0: 0, 1: 0}},
		{at: at(100), owner: map[int32]int{0: 1, 1: 0}}, // partition 0 moves to instance 1
	}}
	rec := func(seq int) []byte { return []byte(`{"volume":` + strconv.Itoa(seq) + `}`) }
	partOf := func(seq int64) (int32, bool) { return int32(seq % 2), true } // even → 0, odd → 1
	writes := []s3Write{
		{At: at(50), Op: "put", Key: "a", Instance: 0, body: rec(2)},  // owns 0: fine
		{At: at(150), Op: "put", Key: "b", Instance: 0, body: rec(4)}, // lost 0 at 100: fenced
		{At: at(160), Op: "put", Key: "c", Instance: 0, body: rec(5)}, // still owns 1: fine
		{At: at(170), Op: "put", Key: "d", Instance: 1, body: rec(6)}, // the new owner: fine
		{At: at(180), Op: "put", Key: "e", Instance: 2, body: rec(6)}, // never owned it: not fencing
		{At: at(190), Op: "delete", Key: "a", Instance: 0},
	}
	n, ex := o.fenced(writes, partOf, nil)
	assert.Equal(t, 1, n)
	require.Len(t, ex, 1)
	assert.Equal(t, FencedWrite{Object: "b", Instance: 0, Partition: 0, Owner: 1, Since: "50ms"}, ex[0])
}
