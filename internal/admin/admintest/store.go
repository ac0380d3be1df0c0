package admintest

// Store is the whole store of the admin API made of the fakes: the rule store, the
// ledger (spend, history and the client index) and the loops.
type Store struct {
	*RuleStore
	*Ledger
	*Loops
}

// NewStore returns a store of empty fakes.
func NewStore() Store {
	return Store{RuleStore: NewRuleStore(), Ledger: NewLedger(), Loops: NewLoops()}
}
