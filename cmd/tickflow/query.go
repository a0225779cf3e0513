package main

import (
	"github.com/spf13/cobra"
	"github.com/tickflow/tickflow/harness/lake/query"
)

func init() { register(newQueryCmd) }

func newQueryCmd() *cobra.Command {
	var src lakeSource
	var format string
	cmd := &cobra.Command{
		Use:   `query "SQL" (--dir DIR | [--s3-endpoint URL] --bucket B [--prefix P]) [--format table|csv|json]`,
		Short: "Run SQL over the lake offline (DuckDB) with stock_ticks defined exactly as Athena sees it",
		Long: `query runs SQL against the table stock_ticks: the contract's columns with Athena's types, and the
partition keys dt and hour as strings. An S3 lake is first copied to a temporary folder.
Example: tickflow query "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM stock_ticks" --dir ./lake`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := query.Format(format)
			if f != query.Table && f != query.CSV && f != query.JSON {
				return usageError("--format %q: want table, csv or json", format)
			}
			var res *query.Result
			var err error
			if src.dir != "" && src.bucket == "" && src.endpoint == "" && src.prefix == "" {
				res, err = query.Run(cmd.Context(), src.dir, args[0])
			} else {
				st, prefix, oerr := src.open(cmd.Context())
				if oerr != nil {
					return oerr
				}
				res, err = query.RunStore(cmd.Context(), st, prefix, args[0])
			}
			if err != nil {
				return usageError("%v", s3Error(src.target(), err))
			}
			if err := res.Write(cmd.OutOrStdout(), f); err != nil {
				return usageError("query: write result: %v", err)
			}
			return nil
		},
	}
	src.flags(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", "table", "output: table, csv or json")
	return cmd
}
