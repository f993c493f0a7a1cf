package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/enneo-facade/facade/upstream"
)

// This file maps the upstream's lenient types onto GraphQL scalars (see gqlgen.yml, models).

// MarshalUpstreamID writes an upstream id, number or string alike, as an ID string.
func MarshalUpstreamID(id upstream.ID) graphql.Marshaler {
	return graphql.MarshalString(string(id))
}

// UnmarshalUpstreamID reads an ID argument.
func UnmarshalUpstreamID(v any) (upstream.ID, error) {
	s, err := graphql.UnmarshalID(v)
	return upstream.ID(s), err
}

// MarshalText writes a string the upstream may have sent as a number (phones, codes).
func MarshalText(t upstream.Text) graphql.Marshaler {
	return graphql.MarshalString(string(t))
}

// UnmarshalText reads a String argument.
func UnmarshalText(v any) (upstream.Text, error) {
	s, err := graphql.UnmarshalString(v)
	return upstream.Text(s), err
}

// MarshalFlag writes a 0/1-or-boolean upstream value as a Boolean.
func MarshalFlag(f upstream.Flag) graphql.Marshaler {
	return graphql.MarshalBoolean(bool(f))
}

// UnmarshalFlag reads a Boolean argument.
func UnmarshalFlag(v any) (upstream.Flag, error) {
	b, err := graphql.UnmarshalBoolean(v)
	return upstream.Flag(b), err
}

// MarshalDateTime writes a timestamp in RFC 3339; the zero time is null.
func MarshalDateTime(t upstream.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		b := make([]byte, 0, 40)
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		w.Write(append(b, '"'))
	})
}

// UnmarshalDateTime reads a DateTime argument: unix seconds, RFC 3339 / ISO 8601, or
// "YYYY-MM-DD HH:MM:SS". gqlgen gives scalar functions no context, so a zoneless value stays a
// wall clock (no field takes a DateTime argument yet; one that does places it with Time.In).
func UnmarshalDateTime(v any) (upstream.Time, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int64:
		s = strconv.FormatInt(v, 10)
	case int:
		s = strconv.Itoa(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return upstream.Time{}, fmt.Errorf("DateTime must be a string or unix seconds, not %T", v)
	}
	t, err := upstream.ParseTime(s)
	if err != nil {
		return upstream.Time{}, errors.New("DateTime must be unix seconds, RFC 3339 or YYYY-MM-DD HH:MM:SS")
	}
	return t, nil
}

// MarshalJSON writes a free-form upstream value exactly as it was sent.
func MarshalJSON(raw json.RawMessage) graphql.Marshaler {
	if len(raw) == 0 {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) { w.Write(raw) })
}

// UnmarshalJSON reads a JSON argument.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	return json.Marshal(v)
}

// MarshalFloat writes a Float as JavaScript does: plain digits below 10^21 (a 5 GiB attachment
// size is 5368709120, not gqlgen's default 5.36870912e+09), exponent notation beyond.
func MarshalFloat(f float64) graphql.Marshaler {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [32]byte
		format := byte('f')
		if a := math.Abs(f); a >= 1e21 || a != 0 && a < 1e-6 {
			format = 'g'
		}
		w.Write(strconv.AppendFloat(buf[:0], f, format, -1, 64))
	})
}

// UnmarshalFloat reads a Float argument.
func UnmarshalFloat(v any) (float64, error) {
	return graphql.UnmarshalFloat(v)
}
