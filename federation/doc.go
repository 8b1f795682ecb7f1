// Package federation is Starling's client side of federation and the
// documents it serves: the guarded HTTP clients (fetches and deliveries
// over net/http with the dial guard), the resolver (actors and keys by URI,
// key id or WebFinger, sanitised, stored through AccountStore), the Knocker
// (which signature standard each host accepts, remembered through
// StandardStore), and Site (URL layout, actor and collection documents,
// notes). It reaches storage only through the interfaces it declares.
package federation
