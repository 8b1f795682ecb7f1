package api

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

// TestKeywordMatch: keywords match as Mastodon's CustomFilterKeyword
// regexps do, on the text without markup and the content warning.
func TestKeywordMatch(t *testing.T) {
	tests := []struct {
		keyword   string
		wholeWord bool
		content   string
		spoiler   string
		want      bool
	}{
		{"film", true, "<p>That film!</p>", "", true},
		{"film", true, "<p>my filmography</p>", "", false},
		{"film", false, "<p>my filmography</p>", "", true},
		{"FILM", true, "<p>a Film</p>", "", true},
		{"film", true, "<p>x</p>", "film talk", true},
		{"film", true, "<p>the <a href=\"https://film.example/\">link</a></p>", "", false}, // attributes are markup
		{"rock & roll", true, "<p>rock &amp; roll</p>", "", true},
		{"#tag", true, "<p>a #tag here</p>", "", true},     // no boundary before '#'
		{"#tag", true, "<p>a #tagged here</p>", "", false}, // but one after 'g'
		{"été", true, "<p>l'été arrive</p>", "", true},
		{"été", true, "<p>étésien</p>", "", false},
		{"a.b", true, "<p>aXb</p>", "", false}, // quoted, not a pattern
		{"line", true, "<p>first</p><p>line two</p>", "", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v/%s", tt.keyword, tt.wholeWord, tt.content), func(t *testing.T) {
			re := keywordRegexp(starling.FilterKeyword{Keyword: tt.keyword, WholeWord: tt.wholeWord})
			got := re.MatchString(searchableText(&Status{Content: tt.content, SpoilerText: tt.spoiler}))
			if got != tt.want {
				t.Errorf("match %v, want %v (%s)", got, tt.want, re)
			}
		})
	}
}

// TestFilterMatch: hide applies in the filter's contexts only; elsewhere,
// and for warn, the status is marked; an expired filter does nothing; a
// boost is matched by the status it boosts.
func TestFilterMatch(t *testing.T) {
	now := time.Now()
	mk := func(id int64, action string, expires time.Time, ctx ...string) compiledFilter {
		f := &starling.Filter{ID: id, Title: "f", Context: ctx, Action: action, ExpiresAt: expires,
			Keywords: []starling.FilterKeyword{{Keyword: "film", WholeWord: true}}, Statuses: []starling.FilterStatus{{StatusID: 7}}}
		return compiledFilter{f: f, summary: filterSummary(f), keywords: []*regexp.Regexp{keywordRegexp(f.Keywords[0])},
			statuses: map[string]bool{"7": true}}
	}
	vf := &viewerFilters{filters: []compiledFilter{
		mk(1, starling.FilterHide, time.Time{}, starling.FilterHome),
		mk(2, starling.FilterWarn, time.Time{}, starling.FilterPublic),
		mk(3, starling.FilterHide, now.Add(-time.Second), starling.FilterPublic),
	}}
	film := &Status{ID: "5", Content: "<p>film</p>"}
	tests := []struct {
		name    string
		fctx    string
		st      *Status
		results int
		hide    bool
	}{
		{"hidden at home", starling.FilterHome, film, 2, true},
		{"marked in public", starling.FilterPublic, film, 2, false},
		{"boost hidden at home", starling.FilterHome, &Status{ID: "6", Reblog: film}, 2, true},
		{"by id", starling.FilterPublic, &Status{ID: "7", Content: "<p>x</p>"}, 2, false},
		{"no match", starling.FilterHome, &Status{ID: "8", Content: "<p>films</p>"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, hide := vf.match(tt.fctx, tt.st, now)
			if len(results) != tt.results || hide != tt.hide {
				t.Errorf("%d results, hide %v; want %d, %v", len(results), hide, tt.results, tt.hide)
			}
		})
	}
}

// TestFilterInput: keywords_attributes grouped from JSON, indexed forms
// and Rails' [] forms alike.
func TestFilterInput(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    string
	}{
		{"json", "application/json", `{"title":"t","context":["home","public"],"keywords_attributes":[{"keyword":"a","whole_word":false},{"id":"3","_destroy":true}]}`,
			"t [home public] [map[keyword:a whole_word:false] map[_destroy:true id:3]]"},
		{"indexed form", "application/x-www-form-urlencoded",
			"title=t&context[]=home&context[]=public&keywords_attributes[1][keyword]=b&keywords_attributes[0][keyword]=a&keywords_attributes[1][whole_word]=false",
			"t [home public] [map[keyword:b whole_word:false] map[keyword:a]]"},
		{"rails form", "application/x-www-form-urlencoded",
			"title=t&context[]=home&context[]=public&keywords_attributes[][keyword]=a&keywords_attributes[][whole_word]=false&keywords_attributes[][keyword]=b",
			"t [home public] [map[keyword:a whole_word:false] map[keyword:b]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v2/filters", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			w := httptest.NewRecorder()
			in, ok := (&Server{}).readFilterInput(w, r)
			if !ok {
				t.Fatalf("refused: %s", w.Body)
			}
			if got := fmt.Sprint(in.get("title"), " ", in.set["context[]"], " ", in.keywords); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
