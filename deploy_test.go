package main

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// The files in deploy/ name variables, ports and paths of the facade's; these tests hold them to
// the code: every variable is one loadConfig reads (or Go's runtime or the OpenTelemetry SDK),
// every configuration is one the facade accepts, every port is one it listens on, and every path
// a probe or the load balancer requests is answered by a server started as run starts it.

// TestDeployFilesAreChecked: every file in deploy/ is one the tests below check (and so parse),
// so that a new file cannot slip in unchecked.
func TestDeployFilesAreChecked(t *testing.T) {
	checked := map[string]bool{"compose.yaml": true, "haproxy.cfg": true}
	for _, f := range kubernetesFiles(t) {
		checked[filepath.Join("kubernetes", f)] = true
	}
	checked[filepath.Join("kubernetes", "kustomization.yaml")] = true
	err := filepath.WalkDir("deploy", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("deploy", path)
		if !checked[rel] {
			t.Errorf("deploy/%s: no test checks it; list it in kustomization.yaml or add a check to deploy_test.go", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeployKubernetes checks deploy/kubernetes: the Deployment's environment (its ConfigMap,
// Secrets and own env) against the facade's variables and its config parser, its ports and
// probes against the listeners and routes of a running facade, its security context against
// the Dockerfile's user, its memory limit against the soft limit the facade derives, and the
// selectors of the Service, PodDisruptionBudget and HorizontalPodAutoscaler against its labels.
func TestDeployKubernetes(t *testing.T) {
	objects := map[string][]k8sObject{} // by kind
	for _, f := range kubernetesFiles(t) {
		for _, doc := range readYAML(t, filepath.Join("deploy", "kubernetes", f)) {
			var o k8sObject
			convert(t, doc, &o)
			if o.Kind == "" || o.Metadata.Name == "" {
				t.Fatalf("deploy/kubernetes/%s: an object without kind or name", f)
			}
			objects[o.Kind] = append(objects[o.Kind], o)
		}
	}
	dep := onlyOne(t, objects, "Deployment")
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want the facade's only", dep.Metadata.Name, len(pod.Containers))
	}
	c := pod.Containers[0]

	// The environment, as the container will see it.
	env := map[string]string{}
	secretVars := map[string]bool{}
	byName := func(kind, name string) *k8sObject {
		for i, o := range objects[kind] {
			if o.Metadata.Name == name {
				return &objects[kind][i]
			}
		}
		t.Errorf("the Deployment refers to %s %q, which deploy/kubernetes does not define", kind, name)
		return nil
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			if cm := byName("ConfigMap", from.ConfigMapRef.Name); cm != nil {
				for k, v := range cm.Data {
					env[k] = v
				}
			}
		case from.SecretRef != nil:
			if s := byName("Secret", from.SecretRef.Name); s != nil {
				for k, v := range s.values() {
					env[k], secretVars[k] = v, true
				}
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}

	// Secrets hold placeholders only.
	for _, s := range objects["Secret"] {
		for k, v := range s.values() {
			if isFileKey(k) {
				for line := range strings.Lines(v) {
					if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
						t.Errorf("Secret %s, %s: %q is a value, want comments only (placeholders, never real values)", s.Metadata.Name, k, l)
					}
				}
			} else if !strings.Contains(v, "REPLACE_ME") {
				t.Errorf("Secret %s, %s: %q is no placeholder, want REPLACE_ME in it (never real values)", s.Metadata.Name, k, v)
			}
		}
	}

	// Files from volumes: API_KEYS_FILE must be a key of a mounted Secret or ConfigMap. The
	// configuration is then loaded with a file of its own in its place.
	mounted := map[string]string{} // path in the container: its content
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			var src *k8sObject
			switch {
			case v.Secret != nil:
				src = byName("Secret", v.Secret.SecretName)
			case v.ConfigMap != nil:
				src = byName("ConfigMap", v.ConfigMap.Name)
			}
			if src != nil {
				for k, content := range src.values() {
					mounted[filepath.Join(m.MountPath, k)] = content
				}
			}
		}
	}
	if path := env["API_KEYS_FILE"]; path != "" {
		if _, ok := mounted[path]; !ok {
			t.Errorf("API_KEYS_FILE=%s: no volume mounts a file there (mounted: %v)", path, slices.Sorted(maps.Keys(mounted)))
		}
	}
	cfg, env := loadDeployConfig(t, "Deployment "+dep.Metadata.Name, env, secretVars)

	// Ports: the public one and METRICS_ADDR's, by name and number.
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	listeners := map[int]string{cfg.Port: "PORT"}
	for _, l := range []struct{ env, addr string }{{"METRICS_ADDR", cfg.MetricsAddr}, {"PPROF_ADDR", cfg.PprofAddr}} {
		if l.addr != "" {
			listeners[addrPort(t, l.env, l.addr)] = l.env + "=" + l.addr
		}
	}
	for name, n := range ports {
		l := listeners[n]
		if l == "" {
			t.Errorf("container port %s (%d): the facade listens on none such (PORT %d, METRICS_ADDR %q)", name, n, cfg.Port, cfg.MetricsAddr)
		}
		// A listener on loopback cannot be reached through the pod's port.
		_, addr, _ := strings.Cut(l, "=")
		if host, _, err := net.SplitHostPort(addr); err == nil && isLoopback(host) {
			t.Errorf("container port %s (%d): %s listens on loopback, out of reach of the pod's port", name, n, l)
		}
	}
	resolve := func(what string, ref any) int {
		t.Helper()
		switch r := ref.(type) {
		case float64:
			return int(r)
		case string:
			if n, ok := ports[r]; ok {
				return n
			}
			if n, err := strconv.Atoi(r); err == nil {
				return n
			}
		}
		t.Errorf("%s: port %v is none of the container's %v", what, ref, ports)
		return 0
	}
	if p := ports["http"]; p != cfg.Port {
		t.Errorf("container port http = %d, want PORT (%d)", p, cfg.Port)
	}

	// Paths: each probe, and Prometheus' scrape, against a running facade.
	var requests []pathRequest
	for _, p := range []struct {
		name  string
		probe *k8sProbe
		want  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"startupProbe", c.StartupProbe, ""},
	} {
		switch {
		case p.probe == nil && p.want != "":
			t.Errorf("the facade container has no %s, want one on %s", p.name, p.want)
		case p.probe == nil:
		case p.probe.HTTPGet == nil:
			t.Errorf("%s: not an httpGet probe", p.name)
		default:
			if p.want != "" && p.probe.HTTPGet.Path != p.want {
				t.Errorf("%s on %s, want %s", p.name, p.probe.HTTPGet.Path, p.want)
			}
			requests = append(requests, pathRequest{p.name, resolve(p.name, p.probe.HTTPGet.Port), p.probe.HTTPGet.Path})
		}
	}
	if a := dep.Spec.Template.Metadata.Annotations; a["prometheus.io/scrape"] == "true" {
		n, err := strconv.Atoi(a["prometheus.io/port"])
		if err != nil {
			t.Errorf("annotation prometheus.io/port = %q, want a port number", a["prometheus.io/port"])
		}
		requests = append(requests, pathRequest{"the prometheus.io annotations", n, cmp.Or(a["prometheus.io/path"], "/metrics")})
	}
	checkPaths(t, env, cfg, requests)

	// Services route to the container's ports, and select the Deployment's pods.
	labels := dep.Spec.Template.Metadata.Labels
	if !matches(dep.Spec.LabelSelector(), labels) {
		t.Errorf("Deployment selector %v does not match its pods' labels %v", dep.Spec.LabelSelector(), labels)
	}
	if len(objects["Service"]) == 0 {
		t.Error("no Service")
	}
	for _, s := range objects["Service"] {
		if !matches(s.Spec.ServiceSelector(), labels) {
			t.Errorf("Service %s selects %v, not the pods' labels %v", s.Metadata.Name, s.Spec.ServiceSelector(), labels)
		}
		for _, p := range s.Spec.Ports {
			resolve("Service "+s.Metadata.Name+" port "+p.Name, cmp.Or[any](p.TargetPort, float64(p.Port)))
		}
	}
	pdb := onlyOne(t, objects, "PodDisruptionBudget")
	if !matches(pdb.Spec.LabelSelector(), labels) {
		t.Errorf("PodDisruptionBudget %s selects %v, not the pods' labels %v", pdb.Metadata.Name, pdb.Spec.LabelSelector(), labels)
	}
	hpa := onlyOne(t, objects, "HorizontalPodAutoscaler")
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Metadata.Name {
		t.Errorf("HorizontalPodAutoscaler %s scales %s %s, want Deployment %s", hpa.Metadata.Name, ref.Kind, ref.Name, dep.Metadata.Name)
	}
	if hpa.APIVersion != "autoscaling/v2" {
		t.Errorf("HorizontalPodAutoscaler apiVersion %s, want autoscaling/v2", hpa.APIVersion)
	}
	if hpa.Spec.MinReplicas < 2 {
		t.Errorf("HorizontalPodAutoscaler minReplicas %d, want at least 2 (the PodDisruptionBudget drains one)", hpa.Spec.MinReplicas)
	}

	// Security: the Dockerfile's unprivileged user, a read-only root, no way to gain privileges.
	uid := dockerfileUser(t)
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("the pod or the container has no securityContext")
	}
	if !ptrTrue(psc.RunAsNonRoot) && !ptrTrue(sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not true")
	}
	if u := cmp.Or(sc.RunAsUser, psc.RunAsUser); u == nil || *u != uid {
		t.Errorf("runAsUser = %v, want the Dockerfile's USER %d", deref(u), uid)
	}
	if !ptrTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and none added", sc.Capabilities)
	}
	if seccomp := cmp.Or(sc.SeccompProfile, psc.SeccompProfile); seccomp == nil || seccomp.Type != "RuntimeDefault" {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", seccomp)
	}

	// Memory: the limit above the facade's soft limit, and time to shut down gracefully.
	limit := quantity(t, "limits.memory", c.Resources.Limits["memory"])
	soft := softMemoryLimit(cfg)
	if v := env["GOMEMLIMIT"]; v != "" {
		soft = quantity(t, "GOMEMLIMIT", strings.TrimSuffix(v, "B"))
	}
	if soft >= limit {
		t.Errorf("memory limit %s is not above the facade's soft limit of %d MiB (GOMEMLIMIT, or derived from the cache bounds)", c.Resources.Limits["memory"], soft>>20)
	}
	if c.Resources.Requests["cpu"] == "" {
		t.Error("no CPU request: the HorizontalPodAutoscaler's utilization is a share of it")
	}
	grace := time.Duration(deref(pod.TerminationGracePeriodSeconds)) * time.Second
	if pod.TerminationGracePeriodSeconds == nil {
		grace = 30 * time.Second // Kubernetes' default
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if grace <= preStop+cfg.HTTP.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %s is not above preStop %s + SHUTDOWN_TIMEOUT %s", grace, preStop, cfg.HTTP.ShutdownTimeout)
	}
}

// TestDeployCompose checks deploy/compose.yaml and the HAProxy configuration it mounts: each
// facade's environment against the facade's variables and config parser, the replicas sharing
// one Redis and one scope secret, the host names against the services, the memory limit and
// stop grace period as in Kubernetes, and the balancer's servers, ports and health check against
// a running facade.
func TestDeployCompose(t *testing.T) {
	docs := readYAML(t, filepath.Join("deploy", "compose.yaml"))
	if len(docs) != 1 {
		t.Fatalf("deploy/compose.yaml: %d documents, want 1", len(docs))
	}
	var file struct {
		Services map[string]composeService `json:"services"`
	}
	convert(t, docs[0], &file)
	services := file.Services

	facades := map[string]config{}
	var first map[string]string
	var firstName string
	for _, name := range slices.Sorted(maps.Keys(services)) {
		s := services[name]
		if !s.buildsFacade() {
			continue
		}
		env := s.env(t, name)
		cfg, _ := loadDeployConfig(t, "service "+name, env, nil)
		facades[name] = cfg
		if first == nil {
			first, firstName = env, name
		}
		for _, v := range []string{"CACHE_KEY_SECRET", "PSEUDONYM_SECRET", "REDIS_URL", "UPSTREAM_URL"} {
			if env[v] != first[v] {
				t.Errorf("service %s: %s=%q, but %s has %q: the replicas must share it", name, v, env[v], firstName, first[v])
			}
		}
		if env["CACHE_KEY_SECRET"] == "" {
			t.Errorf("service %s: no CACHE_KEY_SECRET, so replicas share no cache entries", name)
		}
		if cfg.Redis.URL == "" {
			t.Errorf("service %s: no REDIS_URL", name)
		} else {
			u, err := url.Parse(cfg.Redis.URL)
			if err != nil {
				t.Fatalf("service %s: REDIS_URL: %v", name, err)
			}
			for _, addr := range append([]string{u.Host}, u.Query()["addr"]...) {
				if host, _, _ := net.SplitHostPort(addr); services[host].Image == "" && services[host].Build == nil {
					t.Errorf("service %s: REDIS_URL names %s, which is no service", name, addr)
				}
			}
		}
		if u, err := url.Parse(cfg.Upstream.BaseURL); err != nil || u.Hostname() == "" {
			t.Errorf("service %s: UPSTREAM_URL %q: want the stub's URL", name, cfg.Upstream.BaseURL)
		} else if up, ok := services[u.Hostname()]; !ok {
			t.Errorf("service %s: UPSTREAM_URL names %s, which is no service", name, u.Hostname())
		} else if addr := up.flag("-addr"); addr != "" && addrPortString(addr) != u.Port() {
			t.Errorf("service %s: UPSTREAM_URL's port %s, but service %s listens on %s", name, u.Port(), u.Hostname(), addr)
		}
		if limit := dockerQuantity(t, name+" mem_limit", s.MemLimit); limit <= softMemoryLimit(cfg) {
			t.Errorf("service %s: mem_limit %v is not above the facade's soft limit of %d MiB", name, s.MemLimit, softMemoryLimit(cfg)>>20)
		}
		grace := 10 * time.Second // Docker's default
		if s.StopGracePeriod != "" {
			var err error
			if grace, err = time.ParseDuration(s.StopGracePeriod); err != nil {
				t.Errorf("service %s: stop_grace_period: %v", name, err)
			}
		}
		if grace <= cfg.HTTP.ShutdownTimeout {
			t.Errorf("service %s: stop_grace_period %s is not above SHUTDOWN_TIMEOUT %s", name, grace, cfg.HTTP.ShutdownTimeout)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("service %s: want read_only and cap_drop [ALL], as in Kubernetes", name)
		}
	}
	if len(facades) < 2 {
		t.Fatalf("deploy/compose.yaml: %d facade services (built from the Dockerfile's last stage), want a fleet", len(facades))
	}

	// The balancer: the service that mounts haproxy.cfg, and the configuration itself.
	var lb composeService
	for _, s := range services {
		for _, v := range s.Volumes {
			if src, _, _ := strings.Cut(v, ":"); filepath.Base(src) == "haproxy.cfg" {
				lb = s
			}
		}
	}
	if lb.Image == "" {
		t.Fatal("deploy/compose.yaml: no service mounts haproxy.cfg")
	}
	hc := parseHAProxy(t, filepath.Join("deploy", "haproxy.cfg"))
	for _, p := range lb.Ports {
		_, container, _ := strings.Cut(strings.TrimPrefix(p, "0.0.0.0:"), ":")
		if container == "" {
			container = p
		}
		if !slices.Contains(hc.binds, container) {
			t.Errorf("the balancer publishes %s, but haproxy.cfg binds %v", p, hc.binds)
		}
	}
	seen := map[string]bool{}
	var port int
	for _, s := range hc.servers {
		host, p, err := net.SplitHostPort(s)
		if err != nil {
			t.Errorf("haproxy.cfg: server %s: %v", s, err)
			continue
		}
		cfg, ok := facades[host]
		if !ok {
			t.Errorf("haproxy.cfg: server %s is no facade service (%v)", s, slices.Sorted(maps.Keys(facades)))
			continue
		}
		seen[host] = true
		if strconv.Itoa(cfg.Port) != p {
			t.Errorf("haproxy.cfg: server %s, but %s listens on PORT %d", s, host, cfg.Port)
		}
		port = cfg.Port
	}
	for name := range facades {
		if !seen[name] {
			t.Errorf("haproxy.cfg: facade service %s is not one of its servers", name)
		}
	}
	if len(hc.checks) == 0 {
		t.Error("haproxy.cfg: no health check (http-check send ... uri, or option httpchk METHOD URI)")
	}
	var requests []pathRequest
	for _, path := range hc.checks {
		requests = append(requests, pathRequest{"haproxy.cfg's health check", port, path})
	}
	checkPaths(t, first, facades[firstName], requests)
}

// goRuntimeVariables are Go's own, which the facade honours (tuneProcess leaves its own memory
// tuning to GOMEMLIMIT and GOGC where set). OTEL_* are the OpenTelemetry SDK's.
var goRuntimeVariables = []string{"GOMEMLIMIT", "GOGC", "GOMAXPROCS", "GODEBUG"}

// loadDeployConfig loads the facade's configuration from env as run would, with the secrets'
// placeholders replaced by test values and files the facade reads (API_KEYS_FILE) replaced by
// valid ones: a bad value fails the test with the facade's own error, and so does a variable
// loadConfig does not read (Go's own and OpenTelemetry's OTEL_* aside). It returns the
// environment it loaded.
func loadDeployConfig(t *testing.T, where string, env map[string]string, secrets map[string]bool) (config, map[string]string) {
	t.Helper()
	e := map[string]string{}
	for k, v := range env {
		if secrets[k] {
			v = strings.ReplaceAll(v, "REPLACE_ME", "test-"+strings.ToLower(k))
			if k == "CACHE_ENCRYPTION_KEY" {
				v = strings.Repeat("ab", 32)
			}
		}
		e[k] = v
	}
	if e["API_KEYS_FILE"] != "" {
		keys := filepath.Join(t.TempDir(), "api-keys.txt")
		if err := os.WriteFile(keys, []byte("test sha256:"+strings.Repeat("0", 64)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		e["API_KEYS_FILE"] = keys
	}
	read := map[string]bool{}
	cfg, err := loadConfig(nil, func(k string) string { read[k] = true; return e[k] }, io.Discard)
	for _, name := range slices.Sorted(maps.Keys(e)) {
		if !read[name] && !slices.Contains(goRuntimeVariables, name) && !strings.HasPrefix(name, "OTEL_") {
			t.Errorf("%s sets %s, which the facade does not read", where, name)
		}
	}
	if err != nil {
		t.Fatalf("%s: the facade does not start with this configuration: %v", where, err)
	}
	return cfg, e
}

// pathRequest is a GET a deploy file makes of the facade: a probe, a scrape, a health check.
type pathRequest struct {
	who  string
	port int // the port it names
	path string
}

// checkPaths starts the facade with the settings of env that decide which routes it serves
// (PLAYGROUND, INTROSPECTION, WEBHOOK_SECRET; METRICS_ADDR and PPROF_ADDR on free loopback
// ports), and sends each request to the listener its port names; each must answer 200.
func checkPaths(t *testing.T, env map[string]string, cfg config, requests []pathRequest) {
	t.Helper()
	routeEnv := map[string]string{}
	for _, k := range []string{"PLAYGROUND", "INTROSPECTION", "WEBHOOK_SECRET"} {
		if v, ok := env[k]; ok {
			routeEnv[k] = v
		}
	}
	// The listener each port of the deploy file is, and where the test's own facade has it.
	type listener struct{ name, test string }
	listeners := map[int]*listener{cfg.Port: {name: "the public port"}}
	for _, l := range []struct{ env, addr string }{{"METRICS_ADDR", cfg.MetricsAddr}, {"PPROF_ADDR", cfg.PprofAddr}} {
		if l.addr != "" {
			routeEnv[l.env] = freeAddr(t)
			listeners[addrPort(t, l.env, l.addr)] = &listener{name: l.env, test: "http://" + routeEnv[l.env]}
		}
	}
	base, _ := startTestServer(t, routeEnv)
	listeners[cfg.Port].test = base
	for _, r := range requests {
		l := listeners[r.port]
		if l == nil {
			t.Errorf("%s: port %d is none the facade listens on (PORT %d, METRICS_ADDR %q, PPROF_ADDR %q)", r.who, r.port, cfg.Port, cfg.MetricsAddr, cfg.PprofAddr)
			continue
		}
		resp, err := http.Get(l.test + r.path)
		if err != nil {
			t.Errorf("%s: GET %s on %s: %v", r.who, r.path, l.name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %s on %s = %d, want 200", r.who, r.path, l.name, resp.StatusCode)
		}
	}
}

// kubernetesFiles are the manifests deploy/kubernetes/kustomization.yaml lists; each must
// exist (TestDeployFilesAreChecked sees that no other is left out).
func kubernetesFiles(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("deploy", "kubernetes")
	docs := readYAML(t, filepath.Join(dir, "kustomization.yaml"))
	var k struct {
		Resources []string `json:"resources"`
	}
	convert(t, docs[0], &k)
	for _, f := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", f, err)
		}
	}
	return k.Resources
}

// readYAML parses every document of a YAML file into plain values.
func readYAML(t *testing.T, path string) []any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML documents", path)
	}
	return docs
}

// convert fills typed from a parsed document, through JSON: the structs below have the JSON
// field names Kubernetes and Compose use.
func convert(t *testing.T, doc any, typed any) {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, typed); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// k8sObject is what the test reads of any manifest.
type k8sObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Data       map[string]string `json:"data"`       // ConfigMap; base64 in a Secret
	StringData map[string]string `json:"stringData"` // Secret
	Spec       k8sSpec           `json:"spec"`
}

// values are a ConfigMap's or a Secret's keys and values, decoded.
func (o k8sObject) values() map[string]string {
	v := map[string]string{}
	for k, s := range o.Data {
		if o.Kind == "Secret" {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil {
				s = string(b)
			}
		}
		v[k] = s
	}
	for k, s := range o.StringData {
		v[k] = s
	}
	return v
}

// isFileKey tells a ConfigMap or Secret key meant as a mounted file (api-keys.txt) from one meant
// as a variable.
func isFileKey(k string) bool { return strings.ContainsAny(k, ".-") }

// k8sSpec holds the fields of the specs of a Deployment, Service, PodDisruptionBudget and
// HorizontalPodAutoscaler that the test reads.
type k8sSpec struct {
	Selector json.RawMessage `json:"selector"` // labels in a Service, a LabelSelector elsewhere
	Template struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec k8sPodSpec `json:"spec"`
	} `json:"template"`
	Ports []struct {
		Name       string `json:"name"`
		Port       int    `json:"port"`
		TargetPort any    `json:"targetPort"`
	} `json:"ports"`
	ScaleTargetRef struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"scaleTargetRef"`
	MinReplicas int `json:"minReplicas"`
}

// ServiceSelector is a Service's selector.
func (s k8sSpec) ServiceSelector() map[string]string {
	var m map[string]string
	json.Unmarshal(s.Selector, &m)
	return m
}

// LabelSelector is a Deployment's or a PodDisruptionBudget's selector's matchLabels.
func (s k8sSpec) LabelSelector() map[string]string {
	var sel struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	json.Unmarshal(s.Selector, &sel)
	return sel.MatchLabels
}

type k8sPodSpec struct {
	SecurityContext               *k8sSecurityContext `json:"securityContext"`
	TerminationGracePeriodSeconds *int                `json:"terminationGracePeriodSeconds"`
	Containers                    []k8sContainer      `json:"containers"`
	Volumes                       []struct {
		Name   string `json:"name"`
		Secret *struct {
			SecretName string `json:"secretName"`
		} `json:"secret"`
		ConfigMap *struct {
			Name string `json:"name"`
		} `json:"configMap"`
	} `json:"volumes"`
}

// k8sSecurityContext is a pod's or a container's; a pod's has no capabilities and the like.
type k8sSecurityContext struct {
	RunAsNonRoot             *bool `json:"runAsNonRoot"`
	RunAsUser                *int  `json:"runAsUser"`
	ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
	SeccompProfile           *struct {
		Type string `json:"type"`
	} `json:"seccompProfile"`
	Capabilities *struct {
		Drop []string `json:"drop"`
		Add  []string `json:"add"`
	} `json:"capabilities"`
}

type k8sContainer struct {
	Env []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `json:"name"`
		} `json:"configMapRef"`
		SecretRef *struct {
			Name string `json:"name"`
		} `json:"secretRef"`
	} `json:"envFrom"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	ReadinessProbe  *k8sProbe           `json:"readinessProbe"`
	LivenessProbe   *k8sProbe           `json:"livenessProbe"`
	StartupProbe    *k8sProbe           `json:"startupProbe"`
	SecurityContext *k8sSecurityContext `json:"securityContext"`
	Resources       struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	Lifecycle *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `json:"seconds"`
			} `json:"sleep"`
		} `json:"preStop"`
	} `json:"lifecycle"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"` // a name or a number
	} `json:"httpGet"`
}

// composeService is what the test reads of a Compose service.
type composeService struct {
	Image           string   `json:"image"`
	Build           any      `json:"build"`       // a context path, or {context, dockerfile, target}
	Environment     any      `json:"environment"` // a map, or a list of NAME=value
	Command         any      `json:"command"`     // a string or a list
	Ports           []string `json:"ports"`
	Volumes         []string `json:"volumes"`
	MemLimit        any      `json:"mem_limit"`
	StopGracePeriod string   `json:"stop_grace_period"`
	ReadOnly        bool     `json:"read_only"`
	CapDrop         []string `json:"cap_drop"`
}

// buildsFacade tells whether the service runs the facade: built from the repository's
// Dockerfile, its last stage.
func (s composeService) buildsFacade() bool {
	b, ok := s.Build.(map[string]any)
	if !ok {
		return s.Build == ".."
	}
	dockerfile, _ := b["dockerfile"].(string)
	target, _ := b["target"].(string)
	return b["context"] == ".." && cmp.Or(dockerfile, "Dockerfile") == "Dockerfile" && target == ""
}

// env is the service's environment as a map.
func (s composeService) env(t *testing.T, name string) map[string]string {
	t.Helper()
	env := map[string]string{}
	switch e := s.Environment.(type) {
	case map[string]any:
		for k, v := range e {
			switch v := v.(type) {
			case string:
				env[k] = v
			case nil:
				env[k] = ""
			default:
				t.Errorf("service %s: %s: %v is not a string; quote it", name, k, v)
			}
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(kv.(string), "=")
			env[k] = v
		}
	}
	return env
}

// flag returns the value following name in the service's command.
func (s composeService) flag(name string) string {
	var args []string
	switch c := s.Command.(type) {
	case string:
		args = strings.Fields(c)
	case []any:
		for _, a := range c {
			args = append(args, a.(string))
		}
	}
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// haproxyConfig is what the test reads of haproxy.cfg.
type haproxyConfig struct {
	binds   []string // ports
	servers []string // host:port
	checks  []string // health check paths
}

func parseHAProxy(t *testing.T, path string) haproxyConfig {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c haproxyConfig
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[0] == "bind" && len(f) > 1:
			c.binds = append(c.binds, addrPortString(f[1]))
		case f[0] == "server" && len(f) > 2:
			c.servers = append(c.servers, f[2])
		case f[0] == "option" && len(f) > 3 && f[1] == "httpchk":
			c.checks = append(c.checks, f[3])
		case f[0] == "http-check" && len(f) > 1 && f[1] == "send":
			if i := slices.Index(f, "uri"); i > 0 && i+1 < len(f) {
				c.checks = append(c.checks, f[i+1])
			}
		}
	}
	return c
}

// dockerfileUser is the uid the Dockerfile's last USER runs as.
func dockerfileUser(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER\s+(\d+)`).FindAllSubmatch(data, -1)
	if m == nil {
		t.Fatal("Dockerfile: no numeric USER")
	}
	uid, _ := strconv.Atoi(string(m[len(m)-1][1]))
	return uid
}

// addrPort is the port of a listen address such as :9090 or 127.0.0.1:9090.
func addrPort(t *testing.T, env, addr string) int {
	t.Helper()
	n, err := strconv.Atoi(addrPortString(addr))
	if err != nil {
		t.Errorf("%s=%q: no port", env, addr)
	}
	return n
}

func addrPortString(addr string) string {
	if _, p, err := net.SplitHostPort(addr); err == nil {
		return p
	}
	return addr
}

// memoryUnit is a suffix of a memory size and what it multiplies by.
type memoryUnit struct {
	suffix string
	mult   int64
}

// quantity reads a Kubernetes memory quantity (256Mi, 1Gi, 268435456, 300M) in bytes.
func quantity(t *testing.T, what, q string) int64 {
	t.Helper()
	return memorySize(t, what, q, []memoryUnit{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"", 1}})
}

// dockerQuantity reads a Compose memory size (256m, 1g, or bytes) in bytes; Docker's units are
// powers of 1024.
func dockerQuantity(t *testing.T, what string, v any) int64 {
	t.Helper()
	s := strings.TrimSuffix(strings.ToLower(toString(v)), "b")
	return memorySize(t, what, s, []memoryUnit{{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"", 1}})
}

// memorySize reads q, a number with one of units' suffixes, in bytes.
func memorySize(t *testing.T, what, q string, units []memoryUnit) int64 {
	t.Helper()
	for _, u := range units {
		if n, ok := strings.CutSuffix(q, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				break
			}
			return v * u.mult
		}
	}
	t.Errorf("%s: %q is not a memory quantity", what, q)
	return 0
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func onlyOne(t *testing.T, objects map[string][]k8sObject, kind string) k8sObject {
	t.Helper()
	if n := len(objects[kind]); n != 1 {
		t.Fatalf("deploy/kubernetes: %d %ss, want 1", n, kind)
	}
	return objects[kind][0]
}

// matches tells whether a selector selects labels; an empty one would select every pod.
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func ptrTrue(p *bool) bool { return p != nil && *p }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
