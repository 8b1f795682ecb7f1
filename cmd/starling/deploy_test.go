package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDeployMetricsExist keeps deploy/'s alert rules and Grafana dashboard
// honest: both parse, and every starling_* metric they query is one the
// code registers (a renamed metric would leave an alert that never fires).
func TestDeployMetricsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	var source strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "interop" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			source.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	registered := source.String()

	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	alerts, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(alerts, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alerts.yaml: a rule without alert or expr: %+v", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) == 0 {
		t.Fatal("alerts.yaml has no rules")
	}

	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	dashboard, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "starling.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(dashboard, &dash); err != nil {
		t.Fatalf("starling.json: %v", err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}

	metric := regexp.MustCompile(`starling_[a-z_]+`)
	for _, e := range exprs {
		for _, name := range metric.FindAllString(e, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if !strings.Contains(registered, `"`+base+`"`) {
				t.Errorf("%s (in %q) is not a metric the code registers", name, e)
			}
		}
	}
}

// TestHealthcheck: the image's health check answers 0 for a ready
// server, 1 for an error status or no server, 2 for a bad command line.
func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "store: unreachable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{ok.URL}, 0},
		{[]string{down.URL}, 1},
		{[]string{closed.URL}, 1},
		{[]string{"a", "b"}, 2},
		{[]string{"::not a url"}, 2},
	} {
		var stderr strings.Builder
		if got := run(context.Background(), append([]string{"healthcheck"}, tc.args...), func(string) string { return "" }, io.Discard, &stderr); got != tc.want {
			t.Errorf("healthcheck %v = %d, want %d (%s)", tc.args, got, tc.want, stderr.String())
		}
	}
}

// deployTool finds a validator of deploy/'s files, or fails in CI and
// skips elsewhere, saying how to install it.
func deployTool(t *testing.T, install string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		for _, n := range names {
			for _, dir := range []string{filepath.Join(home, "go", "bin"), filepath.Join(home, ".docker", "cli-plugins")} {
				if p := filepath.Join(dir, n); fileExists(p) {
					return p
				}
			}
		}
	}
	msg := fmt.Sprintf("no %s found: %s (.ci/run does)", names[0], install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestDeployFilesValidate: deploy/compose.yaml is a valid Compose file
// (`docker compose config`) and deploy/kubernetes builds with kustomize,
// with a Deployment, a PodDisruptionBudget and probes for every role.
func TestDeployFilesValidate(t *testing.T) {
	root := filepath.Join("..", "..", "deploy")
	t.Run("compose", func(t *testing.T) {
		var cmd *exec.Cmd
		if docker, err := exec.LookPath("docker"); err == nil && exec.Command(docker, "compose", "version").Run() == nil {
			cmd = exec.Command(docker, "compose", "-f", filepath.Join(root, "compose.yaml"), "config", "--format", "json")
		} else {
			// The plugin binary also runs on its own.
			cmd = exec.Command(deployTool(t, "build the Compose CLI plugin from github.com/docker/compose/v5 into ~/.docker/cli-plugins", "docker-compose"),
				"-f", filepath.Join(root, "compose.yaml"), "config", "--format", "json")
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, stderrOf(err))
		}
		var project struct {
			Services map[string]struct {
				Command     []string
				Healthcheck *struct{ Test []string }
				Restart     string
			}
		}
		if err := json.Unmarshal(out, &project); err != nil {
			t.Fatalf("compose config output: %v", err)
		}
		roles := map[string]int{}
		for name, s := range project.Services {
			if len(s.Command) >= 3 && s.Command[0] == "serve" && s.Command[1] == "--roles" {
				roles[s.Command[2]]++
				if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 || s.Restart == "" {
					t.Errorf("service %s has no health check or restart policy", name)
				}
			}
		}
		for _, r := range []string{"api", "inbox", "fanout", "timeline"} {
			if roles[r] < 2 {
				t.Errorf("compose runs %d processes of role %s, want 2", roles[r], r)
			}
		}
	})
	t.Run("kustomize", func(t *testing.T) {
		kustomize := deployTool(t, "go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.1", "kustomize")
		cmd := exec.Command(kustomize, "build", filepath.Join(root, "kubernetes"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, stderrOf(err))
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		kinds := map[string]int{}
		for {
			var doc struct {
				Kind     string
				Metadata struct{ Name string }
				Spec     struct {
					Template struct {
						Spec struct {
							Containers []struct {
								ReadinessProbe *probe `yaml:"readinessProbe"`
								LivenessProbe  *probe `yaml:"livenessProbe"`
							}
						}
					}
				}
			}
			if err := dec.Decode(&doc); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("kustomize output: %v", err)
			}
			kinds[doc.Kind]++
			if doc.Kind == "Deployment" {
				for _, c := range doc.Spec.Template.Spec.Containers {
					if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
						t.Errorf("%s: no readiness probe on /healthz", doc.Metadata.Name)
					}
					if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/livez" {
						t.Errorf("%s: no liveness probe on /livez", doc.Metadata.Name)
					}
				}
			}
		}
		for kind, want := range map[string]int{"Deployment": 4, "PodDisruptionBudget": 4, "ScaledObject": 1, "Cluster": 1, "Job": 1} {
			if kinds[kind] < want {
				t.Errorf("kustomize build: %d %s, want at least %d", kinds[kind], kind, want)
			}
		}
	})
}

// probe is a Kubernetes probe, as far as the test reads it.
type probe struct {
	HTTPGet struct{ Path string } `yaml:"httpGet"`
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// TestImageBuild runs the Dockerfile's build command outside a container
// (no container engine runs in CI): the documented image builds, without
// cgo, and its binary answers its own health check.
func TestImageBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var build string
	for _, l := range strings.Split(string(dockerfile), "\n") {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = strings.TrimPrefix(l, "RUN ")
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Fatalf("the Dockerfile's build line %q does not build without cgo", build)
	}
	bin := filepath.Join(t.TempDir(), "starling")
	build = strings.ReplaceAll(build, "${VERSION}", "test")
	build = strings.Replace(build, "-o /starling", "-o "+bin, 1)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if out, err := exec.Command(bin, "healthcheck", srv.URL).CombinedOutput(); err != nil {
		t.Fatalf("the image's binary: healthcheck: %v\n%s", err, out)
	}
}

// TestMetricsListen: with --metrics-listen, /metrics moves off the public
// address (it names the hosts the server delivers to) to its own, beside
// the probes.
func TestMetricsListen(t *testing.T) {
	a := startInstance(t, "A", func(c *Config) { c.MetricsListen = "127.0.0.1:0" })
	get := func(url string) (int, string) {
		resp, err := a.client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(a.base + "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	metrics := "http://" + a.srv.MetricsAddr
	if code, body := get(metrics + "/metrics"); code != http.StatusOK || !strings.Contains(body, "starling_relay_due_events") {
		t.Errorf("metrics address /metrics: %d, %.200s", code, body)
	}
	for _, probe := range []string{"/healthz", "/readyz", "/livez"} {
		if code, body := get(metrics + probe); code != http.StatusOK {
			t.Errorf("metrics address %s: %d %s", probe, code, body)
		}
	}
}
