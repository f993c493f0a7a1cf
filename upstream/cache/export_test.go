package cache

// StoreKinds lets redis_test.go, outside the package, add the Redis store to the stores that
// every cache behaviour is tested against.
var StoreKinds = storeKinds
