package policytest

// NaiveConditions exposes the brute-force oracle to the tests.
var NaiveConditions = naiveConditions
