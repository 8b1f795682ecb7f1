package starling

// InstanceStats are the counts the instance endpoints report.
type InstanceStats struct {
	Users, Statuses, Domains int64
	// ActiveMonth counts local users who posted in the last 30 days.
	ActiveMonth int64
}
