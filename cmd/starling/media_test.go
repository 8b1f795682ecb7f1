package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	_ "image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/media/mediatest"
)

type mediaEntity struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	URL         *string `json:"url"`
	PreviewURL  *string `json:"preview_url"`
	RemoteURL   *string `json:"remote_url"`
	Description *string `json:"description"`
	Blurhash    *string `json:"blurhash"`
	Meta        struct {
		Original struct{ Width, Height int }
		Focus    *struct{ X, Y float64 }
	} `json:"meta"`
}

// upload posts a file to path as a client does (multipart), and returns
// the status and body.
func (in *instance) upload(path, token, filename string, data []byte, fields map[string]string) (int, []byte) {
	in.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", in.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// uploadReady uploads a picture and waits until it is processed.
func (in *instance) uploadReady(token string, data []byte, fields map[string]string) mediaEntity {
	in.t.Helper()
	code, body := in.upload("/api/v2/media", token, "photo.jpg", data, fields)
	if code != http.StatusOK && code != http.StatusAccepted {
		in.t.Fatalf("upload: %d %s", code, body)
	}
	var m mediaEntity
	_ = json.Unmarshal(body, &m)
	waitFor(in.t, 30*time.Second, "the upload processed", func() bool {
		code, _, body := in.raw("GET", "/api/v1/media/"+m.ID, token, nil)
		_ = json.Unmarshal(body, &m)
		return code == http.StatusOK
	})
	return m
}

func fetch(t *testing.T, c *http.Client, rawURL string) (int, string, []byte) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestMedia: alice uploads a phone photo (EXIF orientation and GPS); the
// stored files have no metadata, there is a thumbnail and a blurhash; her
// post with it reaches a second Starling, which shows the attachment
// through its API, and the Fedify peer, which gets Mastodon's attachment
// fields. Bad uploads and bad media ids are refused and store nothing.
func TestMedia(t *testing.T) {
	spec := loadMastodonSpec(t)
	peer := startFedify(t)
	a, b := startInstance(t, "A"), startInstance(t, "B")
	alice, bob := a.user("alice"), b.user("bob")
	aliceURI := a.base + "/users/alice"
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	peer.control("POST", "/control/follow", url.Values{"target": {aliceURI}}, nil)

	photo := mediatest.ExifJPEG(t, 400, 200)
	m := a.uploadReady(alice, photo, map[string]string{"description": "A gradient, sideways", "focus": "0.5,-0.25"})
	code, _, body := a.raw("GET", "/api/v1/media/"+m.ID, alice, nil)
	spec.check(t, "GET", "#/components/schemas/MediaAttachment", body)
	if m.URL == nil || m.PreviewURL == nil || m.Blurhash == nil || *m.Blurhash == "" || m.Type != "image" ||
		m.Meta.Original.Width != 200 || m.Meta.Original.Height != 400 || m.Meta.Focus == nil || m.Meta.Focus.X != 0.5 {
		t.Fatalf("processed upload %d %s", code, body)
	}
	for _, u := range []string{*m.URL, *m.PreviewURL} {
		code, ctype, data := fetch(t, a.client, u)
		if code != http.StatusOK || ctype != "image/jpeg" {
			t.Fatalf("GET %s: %d %s", u, code, ctype)
		}
		if bytes.Contains(data, []byte("Exif")) || bytes.Contains(data, []byte{0xFF, 0xE1}) {
			t.Errorf("%s keeps EXIF (GPS) data", u)
		}
	}
	// Another account may not read or use it.
	if code, _, _ := b.raw("GET", "/api/v1/media/"+m.ID, bob, nil); code != http.StatusNotFound {
		t.Errorf("bob reading alice's upload on B: %d", code)
	}
	carol := a.user("carol")
	if code, _, _ := a.raw("GET", "/api/v1/media/"+m.ID, carol, nil); code != http.StatusNotFound {
		t.Errorf("carol reading alice's upload: %d", code)
	}
	if code, _, body := a.raw("POST", "/api/v1/statuses", carol, url.Values{"status": {"mine now"}, "media_ids[]": {m.ID}}); code != 422 {
		t.Errorf("carol attaching alice's upload: %d %s", code, body)
	}

	// The post, with no text.
	code, _, body = a.raw("POST", "/api/v1/statuses", alice, url.Values{"media_ids[]": {m.ID}})
	if code != http.StatusOK {
		t.Fatalf("post with media: %d %s", code, body)
	}
	spec.check(t, "POST", "#/components/schemas/Status", body)
	var st struct {
		ID               string        `json:"id"`
		URI              string        `json:"uri"`
		MediaAttachments []mediaEntity `json:"media_attachments"`
	}
	_ = json.Unmarshal(body, &st)
	if len(st.MediaAttachments) != 1 || st.MediaAttachments[0].ID != m.ID || *st.MediaAttachments[0].URL != *m.URL {
		t.Errorf("the status's attachments %s", body)
	}
	// Attached once only.
	if code, _, _ := a.raw("POST", "/api/v1/statuses", alice, url.Values{"status": {"again"}, "media_ids[]": {m.ID}}); code != 422 {
		t.Errorf("attaching an attached upload again: %d", code)
	}

	// B shows it, by its URL on A.
	waitFor(t, 20*time.Second, "alice's picture in bob's home on B", func() bool {
		code, _, body := b.raw("GET", "/api/v1/timelines/home", bob, nil)
		if code != http.StatusOK {
			return false
		}
		var home []struct {
			URI              string        `json:"uri"`
			MediaAttachments []mediaEntity `json:"media_attachments"`
		}
		_ = json.Unmarshal(body, &home)
		for _, h := range home {
			if h.URI == st.URI && len(h.MediaAttachments) == 1 {
				got := h.MediaAttachments[0]
				if got.RemoteURL == nil || *got.RemoteURL != *m.URL || got.Description == nil || *got.Description != "A gradient, sideways" ||
					got.Blurhash == nil || *got.Blurhash != *m.Blurhash || got.Meta.Original.Width != 200 || got.Meta.Focus == nil {
					t.Errorf("B's attachment %+v", got)
				}
				spec.check(t, "GET", "/api/v1/timelines/home", body)
				return true
			}
		}
		return false
	})
	// The Fedify peer gets Mastodon's fields.
	create := peer.waitActivity("alice's Create with a picture", func(r fedifyReceived) bool { return r.Type == "Create" && r.Object == st.URI })
	att, _ := create.object()["attachment"].([]any)
	if len(att) != 1 {
		t.Fatalf("Create's attachments: %v", create.object()["attachment"])
	}
	doc, _ := att[0].(map[string]any)
	fp, _ := doc["focalPoint"].([]any)
	if doc["type"] != "Document" || doc["mediaType"] != "image/jpeg" || doc["url"] != *m.URL || doc["name"] != "A gradient, sideways" ||
		doc["blurhash"] != *m.Blurhash || doc["width"] != float64(200) || doc["height"] != float64(400) || len(fp) != 2 {
		t.Errorf("attachment as sent: %v", doc)
	}

	// An edit swaps the picture; B shows the new one.
	m2 := a.uploadReady(alice, mediatest.ExifJPEG(t, 300, 300), map[string]string{"description": "a square"})
	code, _, body = a.raw("PUT", "/api/v1/statuses/"+st.ID, alice, url.Values{"status": {"now a square"}, "media_ids[]": {m2.ID}})
	if code != http.StatusOK || !strings.Contains(string(body), `"id":"`+m2.ID+`"`) || strings.Contains(string(body), `"id":"`+m.ID+`"`) {
		t.Fatalf("edit with another picture: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "B to show the edited picture", func() bool {
		code, _, body := b.raw("GET", "/api/v1/timelines/home", bob, nil)
		return code == http.StatusOK && strings.Contains(string(body), `"description":"a square"`) && !strings.Contains(string(body), `"description":"A gradient, sideways"`)
	})

	// A new avatar (a multipart update_credentials, as apps send it)
	// reaches B with the Update of alice's actor.
	var body2 bytes.Buffer
	mw := multipart.NewWriter(&body2)
	fw, _ := mw.CreateFormFile("avatar", "me.jpg")
	_, _ = fw.Write(mediatest.ExifJPEG(t, 800, 600))
	_ = mw.WriteField("display_name", "Alice")
	_ = mw.Close()
	req, _ := http.NewRequest("PATCH", a.base+"/api/v1/accounts/update_credentials", &body2)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ Avatar, Header string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(me.Avatar, "/system/accounts/") || !strings.HasSuffix(me.Header, "/headers/original/missing.png") {
		t.Fatalf("avatar update: %d %+v", resp.StatusCode, me)
	}
	code, ctype, pic := fetch(t, a.client, me.Avatar)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(pic)); code != 200 || ctype != "image/jpeg" || err != nil || cfg.Width != 400 || cfg.Height != 400 {
		t.Errorf("avatar file: %d %s %+v %v", code, ctype, cfg, err)
	}
	waitFor(t, 20*time.Second, "B to show alice's new avatar", func() bool {
		var acct struct{ Avatar string }
		b.mustCall("GET", "/api/v1/accounts/lookup?acct=alice@"+a.cfg.Domain, bob, nil, &acct)
		return acct.Avatar == me.Avatar
	})
	// A picture that is not one changes nothing.
	code, body = a.upload("/api/v1/media", alice, "x.txt", []byte("text"), nil) // warm: a 422 as well
	if code != 422 {
		t.Errorf("text as media: %d %s", code, body)
	}

	// Bad uploads: a clear 4xx, nothing stored.
	bomb := bombPNG(t)
	for _, tt := range []struct {
		name     string
		filename string
		data     []byte
		fields   map[string]string
		want     int
	}{
		{"truncated JPEG", "half.jpg", photo[:len(photo)/2], nil, 422},
		{"100-megapixel PNG", "huge.png", bomb, nil, 422},
		{"not a picture", "notes.txt", []byte("just some text, not an image"), nil, 422},
		{"over the limit", "big.jpg", append(append([]byte{}, photo...), make([]byte, 17<<20)...), nil, 413},
		{"bad focus", "photo.jpg", photo, map[string]string{"focus": "2,0"}, 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.upload("/api/v2/media", alice, tt.filename, tt.data, tt.fields)
			if code != tt.want || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%d %s, want %d with an error", code, body, tt.want)
			}
		})
	}
	var five []string
	for range 5 {
		five = append(five, a.uploadReady(alice, photo, nil).ID)
	}
	if code, _, body := a.raw("POST", "/api/v1/statuses", alice, url.Values{"status": {"five"}, "media_ids[]": five}); code != 422 {
		t.Errorf("five attachments: %d %s", code, body)
	}
	var mine []struct{ ID string }
	a.mustCall("GET", "/api/v1/accounts/"+a.accountID(alice, "alice")+"/statuses", alice, nil, &mine)
	if len(mine) != 1 {
		t.Errorf("alice has %d statuses after the refused ones, want 1", len(mine))
	}
}

// bombPNG is a valid PNG header claiming 10,000 × 10,000 pixels.
func bombPNG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], 10_000)
	binary.BigEndian.PutUint32(b[20:], 10_000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}
