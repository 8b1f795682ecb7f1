package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/starling-social/starling"
)

// chart is the admin page's picture of the last hours, drawn on the
// server as SVG so that it needs no JavaScript: the backlog (pending
// deliveries, as sampled each minute) and the delivery rate (queued and
// delivered per minute).
type chart struct {
	Hours                    int
	Width, Height            int
	Backlog                  []string // polyline points, one per run of samples
	Queued, Delivered        string
	MaxBacklog               int64
	MaxRate                  float64
	From, To                 string
	LastBacklog              int64
	LastDelivered, LastQueue float64
}

const chartWidth, chartHeight = 600, 100

// newChart lays out h (from Operator.History) in chart coordinates.
func newChart(h []starling.DeliveryRate, hours int) *chart {
	c := &chart{Hours: hours, Width: chartWidth, Height: chartHeight, LastBacklog: -1}
	if len(h) == 0 {
		return c
	}
	step := time.Duration(hours) * time.Hour / time.Duration(len(h))
	if len(h) > 1 {
		step = h[1].At.Sub(h[0].At)
	}
	perMinute := func(n int64) float64 { return float64(n) / step.Minutes() }
	for _, r := range h {
		c.MaxBacklog = max(c.MaxBacklog, r.Pending)
		c.MaxRate = max(c.MaxRate, perMinute(r.Queued), perMinute(r.Delivered))
	}
	x := func(i int) float64 {
		if len(h) == 1 {
			return 0
		}
		return float64(i) * chartWidth / float64(len(h)-1)
	}
	y := func(v, top float64) float64 {
		if top <= 0 {
			return chartHeight
		}
		return chartHeight - v*(chartHeight-4)/top
	}
	var run, queued, delivered []string
	for i, r := range h {
		queued = append(queued, fmt.Sprintf("%.1f,%.1f", x(i), y(perMinute(r.Queued), c.MaxRate)))
		delivered = append(delivered, fmt.Sprintf("%.1f,%.1f", x(i), y(perMinute(r.Delivered), c.MaxRate)))
		if r.Pending < 0 { // no sample: the line breaks
			if len(run) > 0 {
				c.Backlog, run = append(c.Backlog, strings.Join(run, " ")), nil
			}
			continue
		}
		c.LastBacklog = r.Pending
		run = append(run, fmt.Sprintf("%.1f,%.1f", x(i), y(float64(r.Pending), float64(c.MaxBacklog))))
	}
	if len(run) == 1 { // a lone sample: a dot's worth of line
		run = append(run, run[0])
	}
	if len(run) > 0 {
		c.Backlog = append(c.Backlog, strings.Join(run, " "))
	}
	c.Queued, c.Delivered = strings.Join(queued, " "), strings.Join(delivered, " ")
	last := h[len(h)-1]
	c.LastQueue, c.LastDelivered = perMinute(last.Queued), perMinute(last.Delivered)
	c.From, c.To = h[0].At.Format("15:04"), last.At.Add(step).Format("15:04")
	return c
}
