package lookups

import (
	"maps"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse(strings.NewReader(`# HELP facade_cache_lookups_total Cache lookups by layer.
# TYPE facade_cache_lookups_total counter
facade_cache_lookups_total{layer="hot",result="hit"} 12
facade_cache_lookups_total{layer="response",result="miss"} 3e+06
facade_cache_lookups_total{result="error",layer="store"} 7
# TYPE facade_cache_lookups_totally counter
facade_cache_lookups_totally{layer="x",result="y"} 1
facade_upstream_calls_total{result="ok"} 100
`))
	want := map[string]float64{"hot_hit": 12, "response_miss": 3e6, "store_error": 7}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Parse = %v, %v; want %v", got, err, want)
	}
	if got, err := Parse(strings.NewReader("facade_upstream_calls_total 1\n")); err != nil || len(got) != 0 {
		t.Errorf("without the series: %v, %v; want nothing", got, err)
	}
	if _, err := Parse(strings.NewReader("facade_cache_lookups_total{layer=\"hot\" 1\n")); err == nil {
		t.Error("a broken line: no error")
	}
}
