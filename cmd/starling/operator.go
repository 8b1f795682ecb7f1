package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
	"github.com/starling-social/starling/queue"
)

// operatorArgs are the flags and arguments of the operator's commands.
type operatorArgs struct {
	json     bool
	host     string
	filter   string
	limit    int
	statusID int64
	all      bool
	watch    time.Duration
	ids      idList
	args     []string // positional: STATUS_ID, HOST
}

func operatorFor(cfg *Config, db Store) (*fanout.Operator, error) {
	topo, err := queue.NewTopology(cfg.NATSPrefix)
	if err != nil {
		return nil, err
	}
	// No deliverer here: in flight and breakers live in the serving
	// processes (GET /api/v1/admin/backlog shows them).
	return &fanout.Operator{Store: db, Topology: topo}, nil
}

// cliActor is who the audit says acted from the command line.
func cliActor(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + (-d).Round(time.Second).String()
	}
	return d.Round(time.Second).String() + " ago"
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// watchBacklog prints the host table every a.watch until ctx ends: in
// place on a terminal, one table after another (with a time line) when not.
func watchBacklog(ctx context.Context, op *fanout.Operator, a operatorArgs, w io.Writer) error {
	if a.watch < 100*time.Millisecond {
		return &api.ValidationError{Msg: fmt.Sprintf("--watch %s: refresh at most every 100ms", a.watch)}
	}
	tty := isTerminal(w)
	t := time.NewTicker(a.watch)
	defer t.Stop()
	for {
		if tty {
			fmt.Fprint(w, "\x1b[H\x1b[2J") // home, clear
		}
		fmt.Fprintf(w, "%s (every %s; Ctrl-C ends)\n", time.Now().Format(time.DateTime), a.watch)
		if err := showBacklog(ctx, op, a, w); err != nil {
			return err
		}
		if !tty {
			fmt.Fprintln(w)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// showBacklog prints the host table.
func showBacklog(ctx context.Context, op *fanout.Operator, a operatorArgs, w io.Writer) error {
	list, err := op.Backlog(ctx, starling.HostBacklogFilter{Host: a.host, Only: a.filter, Limit: a.limit})
	if err != nil {
		return err
	}
	if a.json {
		if list == nil {
			list = []starling.HostBacklog{}
		}
		return writeJSONTo(w, list)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tPENDING\tOLDEST\tATTEMPTS\tNEXT ATTEMPT\tSTATE\tSIGNATURE\t1H\t24H\tMEDIAN\tLAST ERROR")
	for _, h := range list {
		var state []string
		if h.Suspended {
			state = append(state, "suspended")
		}
		if h.Paused {
			state = append(state, "paused")
		}
		if h.Unavailable {
			state = append(state, "unavailable")
		} else if h.LastError != "" {
			state = append(state, "failing")
		}
		if len(state) == 0 {
			state = append(state, "ok")
		}
		lastErr := h.LastError
		if h.LastStatus != 0 && !strings.Contains(lastErr, strconv.Itoa(h.LastStatus)) {
			lastErr = fmt.Sprintf("%d %s", h.LastStatus, lastErr)
		}
		sig := h.Signature
		if sig == "" {
			sig = "-"
		}
		if h.SignatureRefused != "" {
			sig += " (refused " + h.SignatureRefused + " " + ago(h.SignatureRefusedAt, now) + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%.0fms\t%s\n", h.Host, h.Pending, ago(h.OldestPending, now),
			h.Attempts, ago(h.NextAttempt, now), strings.Join(state, ","), sig, h.Delivered1h, h.Delivered24h,
			h.MedianLatencyMS, clip(lastErr, 50))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "(no hosts with deliveries, failures or decisions)")
	}
	if a.host == "" {
		return nil
	}
	// One host: its queue too.
	queue, err := op.HostQueue(ctx, a.host, 50)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\npending deliveries to %s, oldest first (at most 50):\n", a.host)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTIVITY\tTYPE\tINBOX\tQUEUED\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
	for _, d := range queue {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ActivityID, d.ActivityType, d.Inbox, ago(d.QueuedAt, now),
			d.Attempts, ago(d.NextAttempt, now), clip(d.LastError, 50))
	}
	return tw.Flush()
}

// showTrace prints every destination of a post.
func showTrace(ctx context.Context, op *fanout.Operator, a operatorArgs, w io.Writer) error {
	if len(a.args) != 1 {
		return &api.ValidationError{Msg: "want one status id: starling admin trace STATUS_ID"}
	}
	id, err := strconv.ParseInt(a.args[0], 10, 64)
	if err != nil || id <= 0 {
		return &api.ValidationError{Msg: fmt.Sprintf("%q is not a status id", a.args[0])}
	}
	list, err := op.Trace(ctx, id)
	if err != nil {
		if starling.ErrorCode(err) == starling.ENOTFOUND {
			return fmt.Errorf("no status %d", id)
		}
		return err
	}
	if a.json {
		return writeJSONTo(w, list)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTIVITY\tINBOX\tSTATE\tDELIVERED\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
	for _, d := range list {
		delivered := "-"
		if !d.DeliveredAt.IsZero() {
			delivered = d.DeliveredAt.Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ActivityType, d.Inbox, d.State, delivered, d.Attempts,
			ago(d.NextAttempt, now), clip(d.LastError, 50))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "(no remote destinations recorded for this status)")
	}
	return nil
}

// hostAction runs `starling admin host ACTION HOST`.
func hostAction(ctx context.Context, op *fanout.Operator, actor, action string, a operatorArgs, w io.Writer) error {
	if len(a.args) != 1 {
		return &api.ValidationError{Msg: fmt.Sprintf("want one host: starling admin host %s HOST", action)}
	}
	if _, err := fanout.CheckHost(a.args[0]); err != nil {
		return &api.ValidationError{Msg: starling.ErrorMessage(err)}
	}
	n, err := op.HostAction(ctx, actor, action, a.args[0])
	if err != nil {
		return err
	}
	switch action {
	case "pause":
		fmt.Fprintf(w, "paused %s: its deliveries wait until 'starling admin host resume %s'\n", a.args[0], a.args[0])
	case "resume":
		fmt.Fprintf(w, "resumed %s: %d parked deliveries due now\n", a.args[0], n)
	case "retry":
		fmt.Fprintf(w, "retrying %s now: %d scheduled retries due now, breakers reset\n", a.args[0], n)
	case "purge":
		fmt.Fprintf(w, "purged %s: %d deliveries are dead letters now (replay: starling admin deadletters replay --host %s)\n", a.args[0], n, a.args[0])
	default:
		fmt.Fprintf(w, "%s %s: done\n", action, a.args[0])
	}
	return nil
}

// deadLetters runs `starling admin deadletters list|replay`.
func deadLetters(ctx context.Context, op *fanout.Operator, actor, sub string, a operatorArgs, w io.Writer) error {
	f := starling.DeadLetterFilter{Host: a.host, StatusID: a.statusID, IDs: a.ids, Limit: a.limit}
	if sub == "replay" {
		if f.Host == "" && f.StatusID == 0 && len(f.IDs) == 0 && !a.all {
			return &api.ValidationError{Msg: "name what to replay: --host H, --status ID, --id N or --all"}
		}
		n, err := op.Replay(ctx, actor, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "queued %d dead letters again\n", n)
		return nil
	}
	list, err := op.DeadLetters(ctx, f)
	if err != nil {
		return err
	}
	if a.json {
		return writeJSONTo(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tINBOX\tACTIVITY\tATTEMPTS\tAT\tLAST ERROR")
	for _, d := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", d.ID, d.Host, d.Inbox, d.ActivityID, d.Attempts,
			d.CreatedAt.Format(time.DateTime), clip(d.LastError, 50))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "(no dead letters)")
	}
	return nil
}

// showActions prints the audit.
func showActions(ctx context.Context, op *fanout.Operator, a operatorArgs, w io.Writer) error {
	list, err := op.Actions(ctx, a.limit)
	if err != nil {
		return err
	}
	if a.json {
		return writeJSONTo(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tWHO\tACTION\tTARGET\tAFFECTED")
	for _, x := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", x.At.Format(time.DateTime), x.Actor, x.Action, x.Target, x.Affected)
	}
	return tw.Flush()
}
