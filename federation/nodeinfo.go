package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/starling-social/starling/signature"
)

// The signature standard a host verifies, guessed from the software its
// NodeInfo names, for hosts whose actors publish no Ed25519 key (those
// are guessed to verify Ed25519 from the key). The guess only sets where
// the Knocker starts: a refusal knocks down once and is remembered, and
// anything the host signs with or answers later overrides it.

// nodeInfoTimeout bounds reading a host's NodeInfo, both documents.
const nodeInfoTimeout = 3 * time.Second

// nodeInfoInterval is how often one host's NodeInfo is read at most, per
// process.
const nodeInfoInterval = 24 * time.Hour

// nodeInfoSchemas are the NodeInfo schemas whose document names its
// software as {"software": {"name", "version"}}, newest first.
var nodeInfoSchemas = []string{
	"http://nodeinfo.diaspora.software/ns/schema/2.2",
	"http://nodeinfo.diaspora.software/ns/schema/2.1",
	"http://nodeinfo.diaspora.software/ns/schema/2.0",
}

// SoftwareGuesser reads the NodeInfo of hosts the resolver meets, in the
// background, and tells the Knocker the standard their software
// verifies. Run it for as long as the resolver that notifies it
// (Resolver.Software) is in use; hosts noticed while it is busy wait in a
// short queue, and those noticed when the queue is full are dropped: the
// guess is worth a fetch, not a wait or unbounded memory.
type SoftwareGuesser struct {
	Resolver *Resolver // fetches the documents (unsigned, through its guarded client)
	Knocker  *Knocker

	once   sync.Once
	hosts  chan *url.URL
	recent refetchLimit // hosts read within nodeInfoInterval
	read   atomic.Int64 // hosts whose NodeInfo was read (or tried)
}

func (g *SoftwareGuesser) init() {
	g.once.Do(func() { g.hosts = make(chan *url.URL, softwareQueue) })
}

// softwareQueue is how many hosts may wait for their NodeInfo to be read.
const softwareQueue = 256

// Notice queues inbox's host for a NodeInfo read, unless the Knocker
// knows the host already or it was read within nodeInfoInterval. It never
// blocks.
func (g *SoftwareGuesser) Notice(ctx context.Context, inbox *url.URL) {
	g.init()
	host := strings.ToLower(inbox.Host)
	if g.Knocker.Knows(ctx, host) || !g.recent.allowEvery(host, time.Now(), nodeInfoInterval) {
		return
	}
	select {
	case g.hosts <- &url.URL{Scheme: inbox.Scheme, Host: host}:
	default: // busy: this host is guessed another day, or learnt by knocking
	}
}

// Run reads the NodeInfo of queued hosts, one at a time, until ctx ends.
func (g *SoftwareGuesser) Run(ctx context.Context) error {
	g.init()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-g.hosts:
			g.guess(ctx, u)
		}
	}
}

// guess reads u's host's NodeInfo and records the standard its software
// verifies, if known. Failures are only logged: no guess means
// draft-cavage first, as before.
func (g *SoftwareGuesser) guess(ctx context.Context, u *url.URL) {
	defer g.read.Add(1)
	ctx, cancel := context.WithTimeout(ctx, nodeInfoTimeout)
	defer cancel()
	name, version, err := g.Resolver.software(ctx, u.Scheme, u.Host)
	if err != nil {
		g.Knocker.logger().Debug("no software from nodeinfo", "host", u.Host, "error", err)
		return
	}
	if std, ok := SoftwareStandard(name, version); ok {
		g.Knocker.Guess(ctx, u.Host, std)
	}
}

// software returns the software name and version host's NodeInfo gives.
func (r *Resolver) software(ctx context.Context, scheme, host string) (name, version string, err error) {
	wellKnown := scheme + "://" + host + "/.well-known/nodeinfo"
	body, err := r.get(ctx, wellKnown, "application/json", false)
	if err != nil {
		return "", "", err
	}
	var links struct {
		Links []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(body, &links); err != nil {
		return "", "", fmt.Errorf("decode %s: %w", wellKnown, err)
	}
	href := ""
	for _, schema := range nodeInfoSchemas {
		for _, l := range links.Links {
			if l.Rel == schema && href == "" {
				href = l.Href
			}
		}
	}
	// On the host itself: what another host says would be a guess about
	// that host's software, not this one's.
	if u, err := url.Parse(href); err != nil || href == "" || !strings.EqualFold(u.Host, host) {
		return "", "", fmt.Errorf("%s links no NodeInfo 2.x document on %s", wellKnown, host)
	}
	if body, err = r.get(ctx, href, "application/json", false); err != nil {
		return "", "", err
	}
	var doc struct {
		Software struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"software"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", "", fmt.Errorf("decode %s: %w", href, err)
	}
	if doc.Software.Name == "" {
		return "", "", errors.New("nodeinfo names no software")
	}
	return doc.Software.Name, doc.Software.Version, nil
}

// SoftwareStandard returns the newest signature standard a server running
// software name at version is known to verify, when it is newer than
// draft-cavage (which every server verifies).
//
// Only Mastodon is listed: it verifies RFC 9421 with RSA keys since 4.5.0
// (mastodon/mastodon#34814). Its Ed25519 verification (#39518, merged in
// June 2026) is not guessed from a version: which release carries it
// could not be checked here, and a wrong guess costs a knock per host.
// Servers that verify Ed25519 and publish Ed25519 keys (Fedify's, Starling)
// are guessed from their actors' keys instead, and Starling's inbox asks
// for Ed25519 in its answers' Accept-Signature.
func SoftwareStandard(name, version string) (signature.Standard, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mastodon":
		// Forks keep Mastodon's name and version ("4.5.2+glitch",
		// Hometown's "4.5.0+hometown-1.2.0"): the verifying code is
		// Mastodon's.
		if versionAtLeast(version, 4, 5) {
			return signature.StandardRFC9421, true
		}
	}
	return "", false
}

// versionAtLeast reports whether the leading major.minor of version is at
// least major.minor; a version it cannot read is not.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	num := func(s string) (int, bool) {
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(s[:end])
		return n, err == nil
	}
	got, ok1 := num(parts[0])
	gotMinor, ok2 := num(parts[1])
	if !ok1 || !ok2 {
		return false
	}
	return got > major || (got == major && gotMinor >= minor)
}
