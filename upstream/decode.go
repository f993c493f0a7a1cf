package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
)

// This file holds the lenient decoding that the upstream's type hazards (docs/upstream.md) call for:
// ids that are numbers in one place and strings in another, three timestamp formats, 0/1
// booleans, a string where a list is documented, and values that cannot be decoded at all.

var errUndecodable = errors.New("undecodable value")

// ID is an identifier the upstream sends as a JSON string or a JSON number; either way it is kept
// as the text the upstream sent, so 746839 and "746839" are the same ID and no digit is lost.
type ID string

// UnmarshalJSON accepts a JSON string or number.
func (id *ID) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return err
	}
	*id = ID(s)
	return nil
}

// Text is a string the upstream sometimes sends as a JSON number: phones such as 49123456789 and
// 13-digit codes exceed 32 bits, so they are kept as the digits sent rather than as numbers.
type Text string

// UnmarshalJSON accepts a JSON string or number.
func (t *Text) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return err
	}
	*t = Text(s)
	return nil
}

// scalarText returns a JSON string's value or a JSON number's literal text.
func scalarText(b []byte) (string, error) {
	switch {
	case len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && plain(b[1:len(b)-1]):
		return string(b[1 : len(b)-1]), nil
	case len(b) > 0 && b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		if _, err := strconv.ParseFloat(string(b), 64); err != nil {
			return "", errUndecodable
		}
		return string(b), nil
	}
	return "", errUndecodable
}

// plain reports whether the inside of a JSON string needs no unescaping: ids and timestamps
// nearly always, which saves a second pass of encoding/json over them.
func plain(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

// Flag is a boolean the upstream sends as true/false or as 0/1 (agent isSsoOnly is 0 in one
// version of the docs and false in another); the strings "0", "1", "true" and "false" pass too.
type Flag bool

// UnmarshalJSON accepts true, false, 0, 1 and those as strings.
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch string(bytes.Trim(b, `"`)) {
	case "true", "1":
		*f = true
	case "false", "0":
		*f = false
	default:
		return errUndecodable
	}
	return nil
}

// StringList is a list of strings the upstream sometimes sends as a single string (intent tags
// are "prePopulated" in one response and ["prePopulated","writesToErp"] in another).
type StringList []string

// UnmarshalJSON accepts a string or an array of strings.
func (l *StringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// Time is an upstream timestamp. The upstream uses three formats: unix seconds (contract dates),
// "YYYY-MM-DD HH:MM:SS" without a zone (most ticket dates) and ISO 8601 with a zone
// (autoExecuteAt). A zoneless value is read as a wall clock and placed in the configured zone
// once the whole history is decoded (see History.inZone): encoding/json gives an Unmarshaler no
// way to know the zone. The zero Time stands for null, and so do "" and "0000-00-00 00:00:00",
// which PHP back ends write for "no date".
type Time struct {
	time.Time
	naive bool
}

// naiveLayouts are the zoneless formats; zonedLayouts carry an offset.
var (
	naiveLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z0700"}
)

// UnmarshalJSON accepts unix seconds (as a number or a string of digits), the zoneless format and
// ISO 8601 with an offset.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return err
	}
	v, naive, err := parseTime(s)
	*t = Time{Time: v, naive: naive}
	return err
}

// ParseTime reads s in any of the upstream's formats. A zoneless value stays a wall clock until
// In places it. An empty s gives the zero Time.
func ParseTime(s string) (Time, error) {
	v, naive, err := parseTime(s)
	return Time{Time: v, naive: naive}, err
}

// In returns t with a zoneless wall clock read in loc; other times are returned unchanged.
func (t Time) In(loc *time.Location) Time {
	t.place(loc)
	return t
}

// parseTime reads s; naive reports a zoneless wall clock, returned in UTC. Unix values above
// 10^11 are milliseconds: no ticket dates from the year 5138.
func parseTime(s string) (t time.Time, naive bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, false, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n > 1e11 || n < -1e11 {
			return time.UnixMilli(int64(n)).UTC(), false, nil
		}
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)).UTC(), false, nil
	}
	if len(s) == len(time.DateTime) && s[10] == ' ' { // the upstream's usual format first
		if v, err := time.Parse(time.DateTime, s); err == nil {
			return v, true, nil
		}
	}
	for _, layout := range zonedLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v, false, nil
		}
	}
	for _, layout := range naiveLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v, true, nil
		}
	}
	return time.Time{}, false, errUndecodable
}

// place reads a zoneless wall clock in loc.
func (t *Time) place(loc *time.Location) {
	if t == nil || !t.naive {
		return
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	t.Time, t.naive = time.Date(y, mo, d, h, mi, s, t.Nanosecond(), loc), false
}

// Issues records which fields of one decoded object could not be decoded. Every upstream object
// embeds it, so a bad value costs that field alone: the GraphQL layer asks Undecodable for each
// field it resolves and turns such a field into null with an error at its path. The objects have
// no UnmarshalJSON of their own, which would make the decoder scan each nested object once more
// per level; leniency lives in decodeLenient instead.
type Issues struct {
	bad []string
}

// Undecodable reports whether the upstream value of the JSON field name could not be decoded.
func (is *Issues) Undecodable(name string) bool {
	for _, b := range is.bad {
		if b == name {
			return true
		}
	}
	return false
}

// decodeLenient decodes a JSON object into v, a pointer to one of this package's object types.
// Well-formed bodies take one pass of goccy/go-json, which decodes them twice as fast as
// encoding/json (BenchmarkDecodeHistory). bytedance/sonic 1.15 (a JIT) was measured too: 11-13%
// faster still (five example tickets: 190 µs against 214, projected 75 against 87), which is
// about 1% of a caching-off q2, where decoding is 11% of the time: not worth a JIT compiler and
// its assembler among the dependencies. Only when that fails are objects decoded field by
// field (see decodeObject), so that one bad value costs its own field, recorded in its object's
// Issues. It fails only when b is not a JSON object at all.
// It reports whether it had to take that path.
func decodeLenient(b []byte, v any) (lenient bool, err error) {
	if err := gojson.Unmarshal(b, v); err == nil {
		return false, nil
	}
	rv := reflect.ValueOf(v).Elem()
	rv.SetZero()
	return true, decodeObject(b, rv)
}

var issuesType = reflect.TypeFor[Issues]()

// isObject reports whether t is one of this package's object types, which embed Issues.
func isObject(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	f, ok := t.FieldByName("Issues")
	return ok && f.Type == issuesType
}

// decodeObject decodes the JSON object b into the struct v field by field: nested objects and
// lists of objects the same way, every other field with encoding/json. A field that fails is
// left empty and its JSON name recorded in v's Issues. Unknown fields are ignored.
func decodeObject(b []byte, v reflect.Value) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return errUndecodable
	}
	var (
		bad    []string
		folded map[string]string // lower-case key -> key, made when a name is missing
	)
	for i, name := range jsonNames(v.Type()) {
		if name == "" {
			continue
		}
		raw, ok := fields[name]
		if !ok {
			if folded == nil {
				folded = foldedKeys(fields)
			}
			if key, found := folded[strings.ToLower(name)]; found {
				raw, ok = fields[key]
			}
		}
		if !ok {
			continue
		}
		if err := decodeField(raw, v.Field(i)); err != nil {
			v.Field(i).SetZero()
			bad = append(bad, name)
		}
	}
	v.FieldByName("Issues").Set(reflect.ValueOf(Issues{bad: bad}))
	return nil
}

// foldedKeys indexes the keys of fields by their lower case, so that a field is found as the
// strict decoder (goccy/go-json, like encoding/json) finds it: "tiCkets" is tickets. Of keys
// that differ in case alone, the first in sorted order.
func foldedKeys(fields map[string]json.RawMessage) map[string]string {
	folded := make(map[string]string, len(fields))
	for k := range fields {
		if lk := strings.ToLower(k); folded[lk] == "" || k < folded[lk] {
			folded[lk] = k
		}
	}
	return folded
}

func decodeField(raw json.RawMessage, f reflect.Value) error {
	t := f.Type()
	switch {
	case string(raw) == "null":
		return nil
	case t.Kind() == reflect.Pointer && isObject(t.Elem()):
		p := reflect.New(t.Elem())
		if err := decodeObject(raw, p.Elem()); err != nil {
			return err
		}
		f.Set(p)
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Pointer && isObject(t.Elem().Elem()):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		list := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			if err := decodeField(item, list.Index(i)); err != nil {
				return err
			}
		}
		f.Set(list)
		return nil
	}
	return json.Unmarshal(raw, f.Addr().Interface())
}

// fieldNames caches, per struct type, the JSON name of each field by index ("" for none).
var fieldNames sync.Map // reflect.Type -> []string

func jsonNames(t reflect.Type) []string {
	if names, ok := fieldNames.Load(t); ok {
		return names.([]string)
	}
	names := make([]string, t.NumField())
	for i := range names {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "-" && t.Field(i).IsExported() {
			names[i] = tag
		}
	}
	fieldNames.Store(t, names)
	return names
}

// inZone places every zoneless timestamp of the history in loc (see Time).
func (h *History) inZone(loc *time.Location) {
	for _, t := range h.Tickets {
		if t == nil {
			continue
		}
		for _, ts := range []*Time{t.AutoExecuteAt, t.CreatedAt, t.ModifiedAt, t.FirstResponseDueBy, t.DueBy, t.ClosedAt} {
			ts.place(loc)
		}
		if c := t.Customer; c != nil {
			placeTags(c.Tags, loc)
			for _, k := range c.Contracts {
				k.inZone(loc)
			}
		}
		for _, a := range append(append([]*Agent{t.Agent}, t.AssignedAgents...), t.WorkedOnBy...) {
			if a != nil {
				a.LastSeen.place(loc)
			}
		}
		placeTags(t.Tags, loc)
		for _, in := range t.Intents {
			if in != nil && in.Outcome != nil {
				in.Outcome.ExecutedAt.place(loc)
			}
		}
	}
}

func placeTags(tags []*Tag, loc *time.Location) {
	for _, tag := range tags {
		if tag != nil {
			tag.ModifiedAt.place(loc)
		}
	}
}

// inZone places the contract's zoneless timestamps in loc (see Time).
func (k *Contract) inZone(loc *time.Location) {
	if k != nil {
		k.SignupDate.place(loc)
		k.StartDate.place(loc)
		k.EndDate.place(loc)
	}
}
