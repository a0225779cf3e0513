package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
)

func prefixOf(lv dashboard.LakeView, p string) (dashboard.PrefixView, bool) {
	for _, pv := range lv.Prefixes {
		if pv.Prefix == p {
			return pv, true
		}
	}
	return dashboard.PrefixView{}, false
}

// TestLakePanelFollowsThePrefix: a lake under another prefix than the
// bucket root's stock_ticks/ is listed among the bucket's folders, and
// choosing it (POST /api/lake, as the page's selector does) makes the
// panel, /metrics and the contract check follow it: a folder holding
// stock_ticks/ (sink --prefix) and a table's own folder alike.
func TestLakePanelFollowsThePrefix(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	p := produceTicks(t, f.w, 300)
	runSink(t, f.w, "prefix-sink", sink.Prefix("warehouse"))

	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: f.w.S3Endpoint(), Bucket: f.w.Bucket(), Region: f.w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	require.NoError(t, err)
	eventually(t, 60*time.Second, "the bucket's folders list warehouse/ with the sink's objects", func() (bool, string) {
		s := f.state(t)
		pv, ok := prefixOf(s.World.Lake, "warehouse/")
		return ok && pv.Objects > 0, fmt.Sprintf("%+v", s.World.Lake.Prefixes)
	})
	s := f.state(t)
	assert.Equal(t, "stock_ticks/", s.World.Lake.Location, "the default: the root's stock_ticks/")
	assert.Zero(t, s.World.Lake.Objects)

	// Choose warehouse/: its stock_ticks/ folder is the table.
	code, body := f.post(t, "api/lake", map[string]string{"prefix": "warehouse"}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"location":"warehouse/stock_ticks/"`)
	eventually(t, 60*time.Second, "every row under warehouse/stock_ticks/", func() (bool, string) {
		s := f.state(t)
		l := s.World.Lake
		return l.Location == "warehouse/stock_ticks/" && l.Rows == p.total && len(l.Folders) > 0, fmt.Sprintf("%s: %d rows", l.Location, l.Rows)
	})
	assert.Equal(t, "warehouse/", f.state(t).World.Prefix)
	fams := f.scrape(t)
	assert.Equal(t, float64(p.total), values(fams, "tickflow_lake_rows")[""])
	code, body = f.post(t, "api/verify", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, code, body)
	var v dashboard.VerifyResult
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	assert.True(t, v.OK, "%+v", v)
	assert.Equal(t, p.total, v.Rows)

	// A table's own folder: the same objects copied under mytable/.
	objs, err := st.List(ctx, "warehouse/stock_ticks/")
	require.NoError(t, err)
	for _, o := range objs {
		b, meta, err := st.Get(ctx, o.Key)
		require.NoError(t, err)
		require.NoError(t, st.Put(ctx, "mytable/"+strings.TrimPrefix(o.Key, "warehouse/stock_ticks/"), b, meta.Metadata))
	}
	code, body = f.post(t, "api/lake", map[string]string{"prefix": "mytable/"}, nil)
	require.Equal(t, http.StatusOK, code, body)
	eventually(t, 30*time.Second, "every row under mytable/", func() (bool, string) {
		l := f.state(t).World.Lake
		return l.Location == "mytable/" && l.Objects == int64(len(objs)) && l.Rows == p.total, fmt.Sprintf("%s: %d objects %d rows", l.Location, l.Objects, l.Rows)
	})
	code, body = f.post(t, "api/verify", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, code, body)
	v = dashboard.VerifyResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	assert.Empty(t, v.Error)
	assert.Equal(t, p.total, v.Rows, "the check reads the chosen folder")

	// Back to the root; refusals.
	code, body = f.post(t, "api/lake", map[string]string{"prefix": ""}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"location":"stock_ticks/"`)
	code, body = f.post(t, "api/lake", map[string]string{"prefix": "a/../b"}, nil)
	assert.Equal(t, http.StatusBadRequest, code, body)
	code, body = f.post(t, "api/lake", map[string]string{"prefix": "warehouse"}, map[string]string{"Origin": "http://evil.example"})
	assert.Equal(t, http.StatusForbidden, code, body)
	code, body = f.post(t, "api/lake", map[string]string{"prefix": "warehouse"}, map[string]string{"Content-Type": "text/plain"})
	assert.Equal(t, http.StatusUnsupportedMediaType, code, body)
	assert.Equal(t, "stock_ticks/", f.state(t).World.Lake.Location, "refused requests change nothing")
}

// TestTargetPrefix: Target.Prefix (serve --prefix) picks the folder at
// Watch.
func TestTargetPrefix(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: f.w.S3Endpoint(), Bucket: f.w.Bucket(), Region: f.w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, st.Put(ctx, fmt.Sprintf("clicks/dt=2024-03-04/hour=09/part-%d.json", i), []byte(`{"a":1}`+"\n"), nil))
	}
	require.NoError(t, f.d.Watch(ctx, dashboard.Target{World: f.w, Prefix: "clicks"}))
	eventually(t, 30*time.Second, "the panel shows clicks/", func() (bool, string) {
		l := f.state(t).World.Lake
		return l.Location == "clicks/" && l.Objects == 3 && len(l.Folders) == 1 && l.Folders[0].Dt == "2024-03-04", fmt.Sprintf("%+v", l)
	})
}

// TestTargetTable: a table of your own (Athena DDL) is watched at its
// location and checked against its own definition.
func TestTargetTable(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	src, err := os.ReadFile("../../testdata/lakes/good-orders/orders.sql")
	require.NoError(t, err)
	def, err := lake.ParseTable("orders.sql", src)
	require.NoError(t, err)
	st, err := objstore.NewDir("../../testdata/lakes/good-orders")
	require.NoError(t, err)
	require.NoError(t, f.d.Watch(ctx, dashboard.Target{World: f.w, Store: st, Table: def}))
	eventually(t, 30*time.Second, "the panel shows orders/", func() (bool, string) {
		l := f.state(t).World.Lake
		return l.Location == "orders/" && l.Objects > 0, fmt.Sprintf("%+v", l)
	})
	rep, err := f.d.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, "orders", rep.Table)
	assert.True(t, rep.OK(), "%+v", rep.Violations)
}
