package graph

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// The playground's Docs panel is the API's documentation: every type, field and argument of
// ours must say what it is.
func TestSchemaIsDocumented(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, def := range schema.Types {
		if def.BuiltIn || strings.HasPrefix(def.Name, "__") {
			continue
		}
		if strings.TrimSpace(def.Description) == "" {
			t.Errorf("type %s has no description", def.Name)
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if strings.TrimSpace(f.Description) == "" {
				t.Errorf("field %s.%s has no description", def.Name, f.Name)
			}
			for _, a := range f.Arguments {
				if strings.TrimSpace(a.Description) == "" {
					t.Errorf("argument %s.%s(%s) has no description", def.Name, f.Name, a.Name)
				}
			}
		}
	}
}

// Nothing that can exceed 32 bits may be an Int (docs/types.md): the Int fields are
// exactly these, all small by nature (the counts of tickets are over at most 100 histories).
func TestIntFieldsAreSmall(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	allowed := map[string]bool{
		"Contract.statusCode": true, "Ticket.customerLegitimation": true, "Attachment.width": true,
		"Attachment.height": true, "Tag.sla": true, "IntentOption.order": true,
		"TicketStats.count": true, "TicketStats.open": true, "TicketConnection.totalCount": true,
		"DueBreaches.closedLate": true, "DueBreaches.openOverdue": true, "DurationStats.count": true,
		"HistoryStats.contracts": true, "HistoryStats.failed": true, "Bucket.count": true,
	}
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		for _, f := range def.Fields {
			name := def.Name + "." + f.Name
			if f.Type.Name() == "Int" && !allowed[name] {
				t.Errorf("%s is an Int", name)
			}
			isID := f.Name == "id" || strings.HasSuffix(f.Name, "Id") || strings.HasSuffix(f.Name, "Ids")
			if isID && f.Type.Name() != "ID" {
				t.Errorf("%s is %s, want ID", name, f.Type.Name())
			}
		}
	}
}

// The file is the schema clients generate code from (graphql-codegen, Relay's compiler) and
// compare with (graphql-inspector): it must be what the server says it serves, directives
// included. Introspection of the real handler and the file are each read into one entry per
// type, field, argument, enum value and directive, and the two must be equal. The directives
// of the GraphQL spec are left out, as graphql-js's printSchema leaves them out of a file.
func TestSchemaFileIsTheServedSchema(t *testing.T) {
	api, _ := newTestAPIWith(t, demoUpstream(t), 0, Options{Introspection: true})
	body, _ := json.Marshal(map[string]any{"query": introspectionQuery})
	resp, err := http.Post(api.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data struct {
			Schema introspected `json:"__schema"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Errors) > 0 {
		t.Fatalf("introspection: %v %v", err, got.Errors)
	}
	served := got.Data.Schema.entries()

	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	file := fileEntries(t, string(src))
	for _, k := range slices.Sorted(maps.Keys(served)) {
		if f, ok := file[k]; !ok {
			t.Errorf("served but not in schema.graphqls: %s = %s", k, served[k])
		} else if f != served[k] {
			t.Errorf("%s:\nserved: %s\nfile:   %s", k, served[k], f)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(file)) {
		if _, ok := served[k]; !ok {
			t.Errorf("in schema.graphqls but not served: %s = %s", k, file[k])
		}
	}
	if len(served) < 200 {
		t.Errorf("introspection read only %d entries", len(served))
	}
}

// specDirectives are the GraphQL spec's own directives (graphql-js's specifiedDirectives).
var specDirectives = []string{"skip", "include", "deprecated", "specifiedBy", "oneOf"}

// builtinScalars are the spec's scalars, which a schema file does not declare.
var builtinScalars = []string{"String", "Int", "Float", "Boolean", "ID"}

// introspectionQuery is graphql-js 16's getIntrospectionQuery({descriptions, specifiedByUrl,
// directiveIsRepeatable, inputValueDeprecation}).
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

type introspected struct {
	QueryType, MutationType, SubscriptionType *struct{ Name string }
	Types                                     []struct {
		Kind, Name, Description string
		SpecifiedByURL          *string
		Fields                  []struct {
			Name, Description string
			Args              []inputValue
			Type              typeRef
			IsDeprecated      bool
			DeprecationReason *string
		}
		InputFields []inputValue
		Interfaces  []typeRef
		EnumValues  []struct {
			Name, Description string
			IsDeprecated      bool
			DeprecationReason *string
		}
		PossibleTypes []typeRef
	}
	Directives []struct {
		Name, Description string
		IsRepeatable      bool
		Locations         []string
		Args              []inputValue
	}
}

type inputValue struct {
	Name, Description string
	Type              typeRef
	DefaultValue      *string
	IsDeprecated      bool
	DeprecationReason *string
}

type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

func (r typeRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return *r.Name
}

func deprecation(is bool, reason *string) string {
	if !is {
		return "-"
	}
	if reason == nil {
		return "deprecated"
	}
	return "deprecated: " + *reason
}

func orNone(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func (s introspected) entries() map[string]string {
	e := map[string]string{}
	root := func(r *struct{ Name string }) string {
		if r == nil {
			return "-"
		}
		return r.Name
	}
	e["schema"] = root(s.QueryType) + " " + root(s.MutationType) + " " + root(s.SubscriptionType)
	args := func(prefix string, vs []inputValue) {
		for _, a := range vs {
			e[prefix+"("+a.Name+")"] = strings.Join([]string{a.Type.String(), orNone(a.DefaultValue), deprecation(a.IsDeprecated, a.DeprecationReason), a.Description}, " | ")
		}
	}
	for _, t := range s.Types {
		if strings.HasPrefix(t.Name, "__") || slices.Contains(builtinScalars, t.Name) {
			continue
		}
		e["type "+t.Name] = t.Kind + " | " + orNone(t.SpecifiedByURL) + " | " + t.Description
		for _, f := range t.Fields {
			e["field "+t.Name+"."+f.Name] = f.Type.String() + " | " + deprecation(f.IsDeprecated, f.DeprecationReason) + " | " + f.Description
			args("arg "+t.Name+"."+f.Name, f.Args)
		}
		args("input "+t.Name, t.InputFields)
		for _, v := range t.EnumValues {
			e["enum "+t.Name+"."+v.Name] = deprecation(v.IsDeprecated, v.DeprecationReason) + " | " + v.Description
		}
		var names []string
		for _, r := range append(t.Interfaces, t.PossibleTypes...) {
			names = append(names, r.String())
		}
		if len(names) > 0 {
			e["types of "+t.Name] = strings.Join(names, ",")
		}
	}
	for _, d := range s.Directives {
		if slices.Contains(specDirectives, d.Name) {
			continue
		}
		e["directive @"+d.Name] = strings.Join(d.Locations, ",") + " | " + strconv.FormatBool(d.IsRepeatable) + " | " + d.Description
		args("directive @"+d.Name, d.Args)
	}
	return e
}

// fileEntries reads schema.graphqls as entries: its types as gqlparser loads them (with the
// prelude, extensions merged), and the directives the file itself declares.
func fileEntries(t *testing.T, src string) map[string]string {
	t.Helper()
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: src})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parser.ParseSchema(&ast.Source{Name: "schema.graphqls", Input: src})
	if err != nil {
		t.Fatal(err)
	}
	e := map[string]string{}
	name := func(d *ast.Definition) string {
		if d == nil {
			return "-"
		}
		return d.Name
	}
	e["schema"] = name(schema.Query) + " " + name(schema.Mutation) + " " + name(schema.Subscription)
	deprecated := func(dirs ast.DirectiveList) string {
		d := dirs.ForName("deprecated")
		if d == nil {
			return "-"
		}
		if a := d.Arguments.ForName("reason"); a != nil {
			return "deprecated: " + a.Value.Raw
		}
		return "deprecated: No longer supported"
	}
	defaultValue := func(v *ast.Value) string {
		if v == nil {
			return "-"
		}
		return v.String()
	}
	args := func(prefix string, vs ast.ArgumentDefinitionList) {
		for _, a := range vs {
			e[prefix+"("+a.Name+")"] = strings.Join([]string{a.Type.String(), defaultValue(a.DefaultValue), deprecated(a.Directives), a.Description}, " | ")
		}
	}
	for _, d := range schema.Types {
		if d.BuiltIn || strings.HasPrefix(d.Name, "__") {
			continue
		}
		specifiedBy := "-"
		if sb := d.Directives.ForName("specifiedBy"); sb != nil {
			specifiedBy = sb.Arguments.ForName("url").Value.Raw
		}
		kind := map[ast.DefinitionKind]string{ast.Scalar: "SCALAR", ast.Object: "OBJECT", ast.Interface: "INTERFACE", ast.Union: "UNION", ast.Enum: "ENUM", ast.InputObject: "INPUT_OBJECT"}[d.Kind]
		e["type "+d.Name] = kind + " | " + specifiedBy + " | " + d.Description
		for _, f := range d.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if d.Kind == ast.InputObject {
				e["input "+d.Name+"("+f.Name+")"] = strings.Join([]string{f.Type.String(), defaultValue(f.DefaultValue), deprecated(f.Directives), f.Description}, " | ")
				continue
			}
			e["field "+d.Name+"."+f.Name] = f.Type.String() + " | " + deprecated(f.Directives) + " | " + f.Description
			args("arg "+d.Name+"."+f.Name, f.Arguments)
		}
		for _, v := range d.EnumValues {
			e["enum "+d.Name+"."+v.Name] = deprecated(v.Directives) + " | " + v.Description
		}
		if names := append(slices.Clone(d.Interfaces), d.Types...); len(names) > 0 {
			e["types of "+d.Name] = strings.Join(names, ",")
		}
	}
	for _, d := range doc.Directives {
		var locs []string
		for _, l := range d.Locations {
			locs = append(locs, string(l))
		}
		e["directive @"+d.Name] = strings.Join(locs, ",") + " | " + strconv.FormatBool(d.IsRepeatable) + " | " + d.Description
		args("directive @"+d.Name, d.Arguments)
	}
	return e
}
