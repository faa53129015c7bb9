package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/storage/badger"
	"github.com/rtgate/rtgate/storage/clusterimport"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
)

// runCluster runs `rtgate cluster SUBCOMMAND` (args are the words after
// "cluster") and returns the exit code.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "import":
		err = runImport(ctx, args[1:], stdout, stderr, getenv)
	case len(args) > 0 && args[0] == "status":
		err = runStatus(ctx, args[1:], stdout, stderr, getenv)
	case len(args) > 0 && args[0] == "kick":
		err = runKick(ctx, args[1:], stdout, stderr, getenv)
	case len(args) > 0 && args[0] == "sessions":
		err = runSessions(ctx, args[1:], stdout, stderr, getenv)
	default:
		fmt.Fprintln(stderr, "usage: rtgate cluster import --from-badger DIR --nats URL[,URL] [--nats-creds FILE] [--nats-unsafe-single-replica]")
		fmt.Fprintln(stderr, "       rtgate cluster status --nats URL[,URL] [--nats-creds FILE] [--json]")
		fmt.Fprintln(stderr, "       rtgate cluster kick --app ID --peer ID [--session] [--addr IP:PORT] --nats URL[,URL] [--nats-creds FILE] [--reason TEXT]")
		fmt.Fprintln(stderr, "       rtgate cluster sessions --app ID --peer ID --nats URL[,URL] [--nats-creds FILE]")
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, clusterimport.ErrAlreadyImported):
		fmt.Fprintln(stdout, "nothing imported:", err)
		return 0
	case errors.Is(err, config.ErrInvalid):
		fmt.Fprintln(stderr, "rtgate cluster:", err)
		return 2
	}
	fmt.Fprintln(stderr, "rtgate cluster:", err)
	return 1
}

// runImport moves a stopped single node's Badger directory into the
// cluster's JetStream store (storage/clusterimport).
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("rtgate cluster import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("from-badger", "", "the single node's data directory (--data); the node must be stopped")
	nf := addNATSFlags(fs, getenv)
	r1 := fs.Bool("nats-unsafe-single-replica", false, "the cluster keeps 1 replica (as its nodes' flag of the same name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *nf.urls == "" {
		return fmt.Errorf("%w: --from-badger DIR and --nats URL are required", config.ErrInvalid)
	}
	if ents, err := os.ReadDir(*dir); err != nil || len(ents) == 0 {
		return fmt.Errorf("%w: %s holds no Badger data (%v)", config.ErrInvalid, *dir, err)
	}
	src, err := badger.New(badger.Config{Dir: *dir, GCInterval: -1})
	if err != nil {
		return fmt.Errorf("%w (is an rtgate node still running on %s? stop it first)", err, *dir)
	}
	defer src.Close()
	nc, err := nf.connect("rtgate cluster import")
	if err != nil {
		return err
	}
	defer nc.Close()
	replicas := 3
	if *r1 {
		replicas = 1
	}
	octx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	dst, err := jsstore.Open(octx, nc, jsstore.Config{Replicas: replicas, UnsafeSingleReplica: *r1})
	cancel()
	if err != nil {
		return fmt.Errorf("cluster store: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	counts, err := clusterimport.Run(ctx, clusterimport.Config{Source: src, Dest: dst, Conn: nc, Replicas: replicas,
		Progress: func(c clusterimport.Counts) {
			fmt.Fprintf(stderr, "import: %d/%d messages, %d groups, %d inbox entries (%s)\n",
				c.Messages, c.MessagesTotal, c.Groups+c.GroupsExisted, c.InboxEntries, time.Since(start).Round(time.Millisecond))
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s from %s in %s\n", counts, *dir, time.Since(start).Round(time.Millisecond))
	return nil
}
