/* list.h — intrusive doubly linked lists, in the style of BSD's queue.h
 * TAILQ but our own few lines.
 *
 * An element carries its links in a member declared `list_link(type) name`;
 * a list is a `list_head(type)`: first and last element, so a zeroed head is
 * an empty list. Every operation is O(1), allocates nothing, and names the
 * link member (an element may sit on several lists through several links).
 * A removed element's links are NULL. The list never owns its elements.
 *
 * Iterate with `for (T *e = h.first, *n; e; e = n) { n = e->link.next; ... }`
 * when the body may remove e. */
#ifndef SAGELLM_LIST_H
#define SAGELLM_LIST_H

#define list_head(type) struct { type *first, *last; }
#define list_link(type) struct { type *prev, *next; }

/* Puts elm after pos (pos NULL: at the front). */
#define list_insert_after(head, pos, elm, link) do {                              \
        __typeof__(elm) list_e_ = (elm), list_p_ = (pos);                          \
        list_e_->link.prev = list_p_;                                              \
        list_e_->link.next = list_p_ ? list_p_->link.next : (head)->first;        \
        if (list_e_->link.next) list_e_->link.next->link.prev = list_e_;          \
        else (head)->last = list_e_;                                               \
        if (list_p_) list_p_->link.next = list_e_; else (head)->first = list_e_;  \
    } while (0)

#define list_push_front(head, elm, link) list_insert_after(head, NULL, elm, link)
#define list_push_back(head, elm, link) list_insert_after(head, (head)->last, elm, link)

/* Takes elm (which must be on the list) off it. */
#define list_remove(head, elm, link) do {                                          \
        __typeof__(elm) list_e_ = (elm);                                           \
        if (list_e_->link.prev) list_e_->link.prev->link.next = list_e_->link.next;\
        else (head)->first = list_e_->link.next;                                   \
        if (list_e_->link.next) list_e_->link.next->link.prev = list_e_->link.prev;\
        else (head)->last = list_e_->link.prev;                                    \
        list_e_->link.prev = list_e_->link.next = NULL;                            \
    } while (0)

#endif
