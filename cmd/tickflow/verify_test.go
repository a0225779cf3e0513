package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/objstore"
)

const fixtureLakes = "../../testdata/lakes"

// runLakeCmd runs the CLI in-process and returns stdout and the exit code.
func runLakeCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), exitOK
	}
	var ee *exitError
	require.True(t, errors.As(err, &ee), "plain error %v", err)
	return out.String() + ee.Error(), ee.code
}

func TestVerifyExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"clean parquet", []string{"verify", "--dir", filepath.Join(fixtureLakes, "good-parquet"), "--expect-records", "25"}, 0, "OK: the lake meets the contract"},
		{"clean json", []string{"verify", "--dir", filepath.Join(fixtureLakes, "good-json")}, 0, "PREDICTED GLUE TABLES (1)"},
		{"NULLs in optional columns are clean", []string{"verify", "--dir", filepath.Join(fixtureLakes, "good-nulls-parquet"), "--expect-records", "25"}, 0, "OK: the lake meets the contract"},
		{"nulls in JSON are clean", []string{"verify", "--dir", filepath.Join(fixtureLakes, "good-nulls-json"), "--expect-records", "25"}, 0, "OK: the lake meets the contract"},
		{"an optional column of the wrong type", []string{"verify", "--dir", filepath.Join(fixtureLakes, "bad-optional-int32-volume")}, 1, "column volume is INT32 in the file, the table declares bigint"},
		{"short count", []string{"verify", "--dir", filepath.Join(fixtureLakes, "good-json"), "--expect-records", "30"}, 1, "R01"},
		{"violations", []string{"verify", "--dir", filepath.Join(fixtureLakes, "bad-gap")}, 1, "L12 deterministic-names"},
		{"allow gaps", []string{"verify", "--dir", filepath.Join(fixtureLakes, "bad-gap"), "--allow-gaps"}, 0, "OK"},
		{"production warns only", []string{"verify", "--dir", filepath.Join(fixtureLakes, "good-json"), "--production"}, 0, "L15 file-size (warning"},
		{"missing dir", []string{"verify", "--dir", filepath.Join(t.TempDir(), "nope")}, 2, "--dir"},
		{"empty dir", []string{"verify", "--dir", t.TempDir()}, 2, "no objects under the table location"},
		{"no source", []string{"verify"}, 2, "give --dir"},
		{"both sources", []string{"verify", "--dir", ".", "--bucket", "b"}, 2, "exclusive"},
		{"negative count", []string{"verify", "--dir", ".", "--expect-records", "-1"}, 2, "≥ 0"},
		{"ddl", []string{"ddl", "--location", "s3://lake-bucket/p/", "--format", "json"}, 0, "org.openx.data.jsonserde.JsonSerDe"},
		{"ddl glue", []string{"ddl", "--location", "s3://lake-bucket/p/", "--glue-json"}, 0, `"TableType": "EXTERNAL_TABLE"`},
		{"ddl no location", []string{"ddl"}, 2, "--location"},
		{"ddl bad location", []string{"ddl", "--location", "b/p"}, 2, "s3://bucket/prefix/"},
		{"ddl doubled table folder", []string{"ddl", "--location", "s3://lake-bucket/stock_ticks/"}, 2, "already ends with the table folder stock_ticks/, so the table would be at s3://lake-bucket/stock_ticks/stock_ticks/: give the folder that holds it, s3://lake-bucket/"},
		{"ddl doubled table folder, no slash", []string{"ddl", "--location", "s3://lake-bucket/prod/stock_ticks", "--glue-json"}, 2, "give the folder that holds it, s3://lake-bucket/prod/"},
		{"ddl bucket S3 refuses", []string{"ddl", "--location", "s3://My_Lake/p/"}, 2, `--location "s3://My_Lake/p/": bucket name "My_Lake" has 'M'`},
		{"ddl bucket too short", []string{"ddl", "--location", "s3://b/p/"}, 2, "3 to 63 characters"},
		{"ddl bad format", []string{"ddl", "--location", "s3://lake-bucket/p/", "--format", "csv"}, 2, `--format "csv": want parquet or json`},
		{"query", []string{"query", "SELECT count(*) AS n FROM stock_ticks", "--dir", filepath.Join(fixtureLakes, "good-parquet"), "--format", "csv"}, 0, "n\n25\n"},
		{"query unknown column", []string{"query", "SELECT price FROM stock_ticks", "--dir", filepath.Join(fixtureLakes, "good-parquet")}, 2, "price"},
		{"query bad format", []string{"query", "SELECT 1", "--dir", ".", "--format", "xml"}, 2, "--format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runLakeCmd(t, tc.args...)
			assert.Equal(t, tc.code, code, out)
			assert.Contains(t, out, tc.want)
		})
	}
}

func TestVerifyJSONOverS3(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s"})
	require.NoError(t, err)
	root := filepath.Join(fixtureLakes, "bad-overlap")
	require.NoError(t, filepath.WalkDir(filepath.Join(root, "stock_ticks"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, p)
		return st.Put(ctx, "prod/"+filepath.ToSlash(rel), b, nil)
	}))
	args := []string{"--s3-endpoint", srv.URL, "--bucket", "lake", "--prefix", "prod/", "--access-key", "k", "--secret-key", "s"}
	out, code := runLakeCmd(t, append([]string{"verify", "--json"}, args...)...)
	require.Equal(t, 1, code, out)
	var rep struct {
		Rows       int64
		Duplicates int64
		Violations []struct{ Rule, Key string }
	}
	require.NoError(t, json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&rep))
	assert.Equal(t, int64(30), rep.Rows)
	assert.Equal(t, int64(5), rep.Duplicates)
	require.NotEmpty(t, rep.Violations)
	assert.Equal(t, "L12", rep.Violations[0].Rule)

	out, code = runLakeCmd(t, append([]string{"query", "SELECT count(*) AS n, count(DISTINCT (kafka_partition, kafka_offset)) AS d FROM stock_ticks", "--format", "json"}, args...)...)
	require.Equal(t, 0, code, out)
	assert.JSONEq(t, `[{"n":30,"d":25}]`, out)
}
