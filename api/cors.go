package api

import (
	"net/http"
	"strings"
)

// CORS as Mastodon sends it (config/initializers/cors.rb, rack-cors): any
// origin, no credentials, the request headers echoed, and the paging and
// rate-limit headers exposed. Browser clients (Elk, Phanpy, masto.js in a
// page) need it for the API, the token endpoints and discovery.

// corsMethods are the methods allowed on a path, or "" when the path gets
// no CORS headers.
func corsMethods(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/"):
		return "POST, PUT, DELETE, GET, PATCH, OPTIONS"
	case path == "/oauth/token", path == "/oauth/revoke":
		return "POST"
	case strings.HasPrefix(path, "/.well-known/"), strings.HasPrefix(path, "/nodeinfo/"),
		strings.HasPrefix(path, "/users/"), strings.HasPrefix(path, "/@"):
		return "GET"
	}
	return ""
}

const corsExposed = "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id"

// cors answers preflight requests itself, before routing and without
// authentication, and adds CORS headers to the answers of cross-origin
// requests.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods := corsMethods(r.URL.Path)
		if methods == "" || r.Header.Get("Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", methods)
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
			h.Set("Access-Control-Max-Age", "7200")
			// Private Network Access: Chromium asks before a public page
			// (a hosted client such as elk.zone) may call a server on
			// this machine or network, such as a Starling on localhost.
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
			w.WriteHeader(http.StatusOK)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}
