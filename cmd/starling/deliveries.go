package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/starling-social/starling"
)

// idList is a repeatable --id flag.
type idList []int64

func (l *idList) String() string {
	parts := make([]string, len(*l))
	for i, n := range *l {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ",")
}

func (l *idList) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a dead letter id", s)
	}
	*l = append(*l, n)
	return nil
}

// showDeliveries prints failing hosts and pending dead letters from the
// store, with what to do about them. The live view of the queues (stream
// fill, breakers, backlog per host) is GET /api/v1/admin/deliveries on a
// running server.
func showDeliveries(ctx context.Context, db Store, host string, w io.Writer) error {
	hosts, err := db.FailingHosts(ctx)
	if err != nil {
		return err
	}
	scheduled, err := db.ScheduledEvents(ctx)
	if err != nil {
		return err
	}
	due, age, err := db.EventBacklog(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "events waiting to be published: %d (oldest %s); retries scheduled: %d\n\n", due, age.Round(time.Second), scheduled)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAILING HOST\tDAYS\tSINCE\tUNAVAILABLE\tLAST ERROR")
	n := 0
	for _, h := range hosts {
		if host != "" && h.Host != host {
			continue
		}
		n++
		fmt.Fprintf(tw, "%s\t%d\t%s\t%v\t%s\n", h.Host, h.FailureDays, h.FirstFailedAt.Format(time.DateTime), h.Unavailable, clip(h.LastError, 60))
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(w, "(no failing hosts)")
	}
	dead, err := db.DeadLetters(ctx, starling.DeadLetterFilter{Host: host, Limit: 50})
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEAD LETTER\tHOST\tACTIVITY\tATTEMPTS\tAT\tLAST ERROR")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", d.ID, d.Host, d.ActivityID, d.Attempts, d.CreatedAt.Format(time.DateTime), clip(d.LastError, 60))
	}
	tw.Flush()
	if len(dead) == 0 {
		fmt.Fprintln(w, "(no dead letters)")
		return nil
	}
	fmt.Fprintln(w, "\nA host that failed for days marks itself available again on its first success.")
	fmt.Fprintln(w, "Once a host is back, queue its dead letters again: starling admin deliveries replay --host HOST")
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
