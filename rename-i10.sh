#!/bin/sh
# Issue 10: domain types from package store to the root package starling,
# the PostgreSQL store to store/postgres, the test database helper to
# store/postgres/pgtest. Run from the module root, on Go files outside
# store/postgres but for its tests (its own files were rewritten when moved:
# `gofmt -r 'X -> starling.X'` for each name below, unqualified).
set -e
files=$(find . -name '*.go' -not -path './store/storetest/*' \( -not -path './store/postgres/*' -o -name '*_test.go' \))
for id in Account AccountStats Activity DeadLetter DeadLetterFilter HostHealth FailedMessage \
	StatusEdit ErrStaleEdit ErrNotFound ErrConflict IsDataError \
	VisibilityPublic VisibilityUnlisted VisibilityPrivate VisibilityDirect \
	Status MentionedAccount StatusExtras NewReblog Favourite Block Filters StatusMeta \
	Follow Relationship InboxActivity NotifyMention NotifyFollow NotifyFavourite NotifyReblog \
	Notification NotificationFilter DefaultFeedCap Page Item FeedRef WithViewer Event NewID Emoji Field OAuthApplication OAuthCode ErrCodeUsed; do
	gofmt -r "store.$id -> starling.$id" -w $files
done
for id in DB Open RedactURL; do
	gofmt -r "store.$id -> postgres.$id" -w $files
done
for id in NewDB NewDatabaseURL AdminURL DefaultAdminURL; do
	gofmt -r "storetest.$id -> pgtest.$id" -w $files
done
~/go/bin/goimports -w $files
# Comments, which gofmt -r does not see.
sed -i -E 's/\*store\.DB\b/*postgres.DB/g; s/\bstore\.(Account|ErrNotFound|ErrConflict|DefaultFeedCap|Status|Event|NewID)\b/starling.\1/g' $files
