"""SQL in a column: select lists folded, cuts that keep statements apart."""

from __future__ import annotations

from turbina.queries.shorten import compact, fit

# microblog's three per-user counts: identical for their first ~150 characters.
FOLLOWERS = (
    "select count(*) as count_1 from (select users.id as id, users.username as username, "
    "users.email as email from users, followers where followers.followed_id = ? and "
    "followers.follower_id = users.id) as anon_1"
)
FOLLOWING = FOLLOWERS.replace("followed_id = ?", "@").replace(
    "follower_id = users", "followed_id = users"
)
FOLLOWING = FOLLOWING.replace("@", "follower_id = ?")
POSTS = (
    "select count(*) as count_1 from (select posts.id as id, posts.body as body from posts "
    "where ? = posts.user_id) as anon_1"
)


def test_compact_folds_select_lists_and_labels() -> None:
    assert compact(FOLLOWERS) == (
        "select count(*) as count_1 from (select users.id, ... from users, followers where "
        "followers.followed_id = ? and followers.follower_id = users.id) as anon_1"
    )
    labelled = "select q_books.id as q_books_id, q_books.title as q_books_title from q_books"
    assert compact(labelled) == "select q_books.id, ... from q_books"  # SQLAlchemy 2.0's
    assert compact("select a.x, (select count(*), max(b.y) from b) as n from a") == (
        "select a.x, ... from a"
    )
    nested = (
        "select distinct things.alpha, things.beta from things where things.gamma in "
        "(select others.gamma, others.delta from others)"
    )
    assert compact(nested) == (
        "select distinct things.alpha, ... from things where things.gamma in "
        "(select others.gamma, ... from others)"
    )
    for short in ("select q.id from q where q.id = ?", "select id, v from t order by v"):
        assert compact(short) == short  # one item, or a short list: kept whole


def test_fit_keeps_the_part_that_tells_statements_apart() -> None:
    for width in (50, 60, 90):
        shown = fit([FOLLOWERS, FOLLOWING, POSTS], width)
        assert all(len(text) <= width for text in shown)
        assert len(set(shown)) == 3, shown
        assert "followers.followed_id = ?" in shown[0]
        assert "followers.follower_id = ?" in shown[1]
        assert shown[0].startswith("select count(*)")


def test_fit_without_a_width_or_when_everything_fits() -> None:
    assert fit([FOLLOWERS], None) == [compact(FOLLOWERS)]
    assert fit(["select 1", "select 2"], 90) == ["select 1", "select 2"]
    assert fit([POSTS], 40) == [compact(POSTS)[:37] + "..."]  # alone: a plain cut
