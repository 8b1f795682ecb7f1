package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
)

// getJSON GETs rawURL with accept and decodes a JSON answer into out; it
// returns the status and the body.
func getJSON(t *testing.T, rawURL, accept string, out any) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %d %q: %v", rawURL, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, body
}

type jrd struct {
	Subject string   `json:"subject"`
	Aliases []string `json:"aliases"`
	Links   []struct {
		Rel, Type, Href string
	} `json:"links"`
}

func (j jrd) self() string {
	for _, l := range j.Links {
		if l.Rel == "self" && activitypub.IsActivityPubMediaType(l.Type) {
			return l.Href
		}
	}
	return ""
}

// TestFederationEndpoints: the read side of federation on a real instance
// (loopback, so the host has a port).
//
//   - The instance actor's preferredUsername, its WebFinger subject and its
//     WebFinger address agree, as GoToSocial checks before it answers the
//     fetches the instance actor signs: WebFinger of preferredUsername@host
//     must give back that subject and the actor.
//   - NUL or invalid UTF-8 in a WebFinger resource or an actor path is the
//     client's mistake (a JSON 400), not a 500 from PostgreSQL.
func TestFederationEndpoints(t *testing.T) {
	a := startInstance(t, "A")
	a.user("alice")
	host := a.cfg.Domain

	t.Run("InstanceActorRoundTrip", func(t *testing.T) {
		var actor activitypub.Actor
		if code, body := getJSON(t, a.base+"/actor", activitypub.ContentType, &actor); code != http.StatusOK {
			t.Fatalf("GET /actor: %d %s", code, body)
		}
		acct := "acct:" + actor.PreferredUsername + "@" + host
		for _, resource := range []string{acct, actor.ID, "acct:" + host + "@" + host} {
			var j jrd
			code, body := getJSON(t, a.base+"/.well-known/webfinger?resource="+url.QueryEscape(resource), "application/jrd+json", &j)
			if code != http.StatusOK {
				t.Fatalf("WebFinger %s: %d %s", resource, code, body)
			}
			if j.Subject != acct || j.self() != actor.ID || !slices.Contains(j.Aliases, actor.ID) {
				t.Errorf("WebFinger %s: subject %q self %q aliases %q; the actor says %s at %s", resource, j.Subject, j.self(), j.Aliases, acct, actor.ID)
			}
		}
		// The store's reserved name is no address.
		if code, _ := getJSON(t, a.base+"/.well-known/webfinger?resource="+url.QueryEscape("acct:"+federation.InstanceActorUsername+"@"+host), "", nil); code != http.StatusNotFound {
			t.Errorf("WebFinger of the reserved name: %d, want 404", code)
		}
	})

	t.Run("UserRoundTrip", func(t *testing.T) {
		var actor activitypub.Actor
		getJSON(t, a.base+"/users/alice", activitypub.ContentType, &actor)
		var j jrd
		getJSON(t, a.base+"/.well-known/webfinger?resource="+url.QueryEscape("acct:"+actor.PreferredUsername+"@"+host), "", &j)
		if j.Subject != "acct:alice@"+host || j.self() != actor.ID {
			t.Errorf("subject %q self %q", j.Subject, j.self())
		}
	})

	t.Run("BadText", func(t *testing.T) {
		for _, path := range []string{
			"/.well-known/webfinger?resource=acct:%00@" + host,
			"/.well-known/webfinger?resource=acct:%ff@" + host,
			"/.well-known/webfinger?resource=acct:alice%00@" + host,
			"/.well-known/webfinger?resource=" + url.QueryEscape(a.base+"/users/") + "%00",
			"/.well-known/webfinger?resource=" + url.QueryEscape(a.base+"/users/") + "%FF",
			"/users/%00",
			"/users/%ff",
			"/users/%FF",
			"/users/al%00ice",
			"/users/%00/outbox",
			"/users/%FF/followers",
			"/users/%00/following",
			"/users/%C3%28/statuses/1",
		} {
			var e struct {
				Error string `json:"error"`
			}
			code, body := getJSON(t, a.base+path, activitypub.ContentType, nil)
			if code < 400 || code >= 500 || json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("GET %s: %d %q, want a 4xx with a JSON error", path, code, strings.TrimSpace(string(body)))
			}
		}
	})
}
