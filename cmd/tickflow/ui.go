package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tickflow/tickflow/harness/dashboard"
)

// uiFlag is the --ui flag shared by serve, demo and scenario run: an
// address, or "off".
type uiFlag struct {
	addr     string
	explicit bool // given on the command line (a taken port is then an error)
}

const uiOff = "off"

// addUIFlag registers --ui with def as its default ("off" or an address).
func addUIFlag(fl *pflag.FlagSet, f *uiFlag, def, what string) {
	fl.StringVar(&f.addr, "ui", def, what+` (ADDR like 127.0.0.1:8080, port 0 for a free port, or "off")`)
	if def == uiOff {
		fl.Lookup("ui").NoOptDefVal = dashboard.DefaultAddr // plain --ui means the default address
	}
}

// startUI starts the dashboard unless --ui is off; nil means off. When the
// address came from the default (not typed) and its port is taken, the page
// moves to a free port and note says so, instead of failing the command:
// the default must not stop a second serve from starting. A typed address
// that is taken is a usage error.
func startUI(ctx context.Context, f uiFlag, log *slog.Logger) (d *dashboard.Server, note string, err error) {
	if strings.EqualFold(f.addr, uiOff) || f.addr == "" {
		return nil, "", nil
	}
	d, err = dashboard.Start(ctx, dashboard.Addr(f.addr), dashboard.Logger(log))
	if err != nil && !f.explicit && errors.Is(err, syscall.EADDRINUSE) {
		d, err = dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0"), dashboard.Logger(log))
		note = fmt.Sprintf("%s was in use; --ui ADDR picks the address", f.addr)
		log.Info("dashboard: default address in use, serving on a free port", "addr", f.addr)
	}
	if err != nil {
		return nil, "", usageError("--ui %s: %v", f.addr, err)
	}
	return d, note, nil
}

// uiArgs is cobra.NoArgs with a hint for `--ui ADDR` on commands where --ui
// alone means the default address: there the address needs "=".
func uiArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if _, _, err := net.SplitHostPort(args[0]); err == nil && cmd.Flags().Changed("ui") {
		return usageError("--ui takes its address with '=': --ui=%s (--ui alone is %s)", args[0], dashboard.DefaultAddr)
	}
	return usageError("unexpected argument %q (see '%s --help')", args[0], cmd.CommandPath())
}
