//go:build cgo

package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/query"
)

// ExampleRunTable queries a table tickflow has never seen, in Athena's
// dialect: the folder mirrors the bucket of the table's LOCATION.
func ExampleRunTable() {
	bucket, _ := os.MkdirTemp("", "bucket-")
	defer os.RemoveAll(bucket)
	part := filepath.Join(bucket, "web", "clicks", "dt=2024-01-05")
	_ = os.MkdirAll(part, 0o755)
	_ = os.WriteFile(filepath.Join(part, "part-0.json"), []byte(
		`{"user_id": 1, "ts": "2024-01-05 10:15:30"}`+"\n"+`{"user_id": 2, "ts": "2024-01-05 11:00:00"}`+"\n"), 0o644)

	def, err := lake.ParseTable("clicks.sql", []byte(`CREATE EXTERNAL TABLE web.clicks (user_id bigint, ts timestamp)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://lake/web/clicks/'`), lake.AcceptText())
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := query.RunTable(context.Background(), bucket, def,
		`SELECT dt, approx_distinct(user_id), date_format(max(ts), '%H:%i') FROM "default"."clicks" GROUP BY dt`)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = res.Write(os.Stdout, query.CSV)
	// Output:
	// dt,_col1,_col2
	// 2024-01-05,2,11:00
}
