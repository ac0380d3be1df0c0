package memory

import (
	"testing"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/rules"
)

func TestContract(t *testing.T) {
	ledgertest.Run(t, func(*testing.T) budget.Store { return New(Options{}) })
}

func TestRuleStore(t *testing.T) {
	ledgertest.RunRuleStore(t, func(*testing.T) rules.Store { return New(Options{}) })
}

func TestRuleStoreCap(t *testing.T) {
	m := New(Options{})
	m.maxRules = 3
	ledgertest.RunRuleStoreCap(t, m)
}

func TestDynamicRules(t *testing.T) {
	ledgertest.RunDynamicRules(t, func(*testing.T) (rules.Store, rules.Store) {
		m := New(Options{})
		return m, m
	})
}

func TestLoopsTrimmed(t *testing.T) {
	ledgertest.RunLoopsTrimmed(t, New(Options{}))
}
