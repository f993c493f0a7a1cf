// Package lookups reads the facade's cache lookups from its /metrics answer, for the benchmarks
// that report them (bench/bi, bench/soak, and bench/fleet through the command in sum/).
package lookups

import (
	"io"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse reads the facade_cache_lookups_total series of Prometheus' text format, keyed
// "layer_result" ("hot_hit", "store_miss", ...).
func Parse(r io.Reader) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	f := families["facade_cache_lookups_total"]
	if f == nil {
		return out, nil
	}
	for _, m := range f.GetMetric() {
		var layer, result string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "layer":
				layer = l.GetValue()
			case "result":
				result = l.GetValue()
			}
		}
		v := m.GetCounter().GetValue()
		if m.GetCounter() == nil {
			v = m.GetUntyped().GetValue()
		}
		out[layer+"_"+result] = v
	}
	return out, nil
}
