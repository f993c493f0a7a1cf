package lru

import (
	"testing"
	"time"
)

func TestBoundedByCost(t *testing.T) {
	m := New[string, int](10)
	now := time.Now()
	later := now.Add(time.Hour)
	m.Put("a", 1, 4, later)
	m.Put("b", 2, 4, later)
	m.Get("a", now) // a is now the most recently used
	m.Put("c", 3, 4, later)
	if _, ok := m.Get("b", now); ok {
		t.Errorf("b stayed, want it evicted as the least recently used")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := m.Get(k, now); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	if n, cost := m.Stats(); n != 2 || cost != 8 {
		t.Errorf("Stats() = %d, %d, want 2, 8", n, cost)
	}
	m.Put("huge", 4, 11, later)
	if _, ok := m.Get("huge", now); ok {
		t.Errorf("a value costlier than the bound was stored")
	}
}

func TestExpiryAndRemoveIf(t *testing.T) {
	m := New[string, int](100)
	now := time.Now()
	m.Put("old", 1, 1, now.Add(time.Second))
	m.Put("x1", 2, 1, now.Add(time.Hour))
	m.Put("x2", 3, 1, now.Add(time.Hour))
	if _, ok := m.Get("old", now.Add(2*time.Second)); ok {
		t.Errorf("an expired entry was returned")
	}
	m.RemoveIf(func(k string) bool { return k == "x1" })
	if _, ok := m.Get("x1", now); ok {
		t.Errorf("x1 survived RemoveIf")
	}
	if v, ok := m.Get("x2", now); !ok || v != 3 {
		t.Errorf("Get(x2) = %d, %v, want 3, true", v, ok)
	}
	if n, cost := m.Stats(); n != 1 || cost != 1 {
		t.Errorf("Stats() = %d, %d, want 1, 1", n, cost)
	}
}
