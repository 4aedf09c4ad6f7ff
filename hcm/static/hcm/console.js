/* The operator console's only script (no framework, nothing loaded from elsewhere).
 *
 * 1. Copy buttons: any [data-copy] button copies its value; list cells of an "id" column get one;
 *    a form with data-confirm asks before it is sent.
 * 2. Live refresh: an element [data-live-seconds] (the "live bar", rendered by the page) makes the
 *    page fetch itself every N seconds and swap in the parts named by data-live-targets
 *    (CSS selectors), without a reload. A checkbox pauses it (remembered per page); it also
 *    waits while a row is selected, an action is chosen or a field has focus, so nothing the
 *    operator is doing is thrown away.
 */
'use strict';
{
    function copyText(text) {
        if (navigator.clipboard && window.isSecureContext) {
            return navigator.clipboard.writeText(text);
        }
        // Plain http on another host: no async clipboard API there.
        const area = document.createElement('textarea');
        area.value = text;
        area.setAttribute('readonly', '');
        area.style.position = 'fixed';
        area.style.opacity = '0';
        document.body.appendChild(area);
        area.select();
        document.execCommand('copy');
        area.remove();
        return Promise.resolve();
    }

    function addListCopyButtons(root) {
        root.querySelectorAll('#result_list .field-id, #result_list .field-worker_id').forEach(function(cell) {
            if (cell.querySelector('.copy-id-button')) {
                return;
            }
            const value = cell.textContent.trim();
            if (!value) {
                return;
            }
            const button = document.createElement('button');
            button.type = 'button';
            button.className = 'copy-id-button';
            button.dataset.copy = value;
            button.title = 'Copy the id';
            button.setAttribute('aria-label', 'Copy the id ' + value);
            button.textContent = 'Copy';
            cell.appendChild(button);
        });
    }

    document.addEventListener('click', function(event) {
        const button = event.target.closest('[data-copy]');
        if (!button) {
            return;
        }
        event.preventDefault();
        copyText(button.dataset.copy).then(function() {
            const label = button.textContent;
            button.textContent = 'Copied';
            button.classList.add('copied');
            setTimeout(function() {
                button.textContent = label;
                button.classList.remove('copied');
            }, 1200);
        });
    });

    // Forms that ask first: <form data-confirm="…">.
    document.addEventListener('submit', function(event) {
        const form = event.target.closest('form[data-confirm]');
        if (form && !window.confirm(form.dataset.confirm)) {
            event.preventDefault();
        }
    });

    function operatorIsBusy(bar) {
        if (document.querySelector('#result_list input.action-select:checked')) {
            return true;
        }
        const action = document.querySelector('#changelist-form select[name=action]');
        if (action && action.value) {
            return true;
        }
        const active = document.activeElement;
        return Boolean(active && active.matches('input, select, textarea') && !bar.contains(active));
    }

    function startLive(bar) {
        const seconds = Number(bar.dataset.liveSeconds);
        const targets = (bar.dataset.liveTargets || '').split(',').map(function(s) { return s.trim(); }).filter(Boolean);
        const toggle = bar.querySelector('input.live-toggle');
        const stamp = bar.querySelector('.live-stamp');
        const key = 'console-live-paused:' + location.pathname;
        toggle.checked = localStorage.getItem(key) !== '1';
        bar.classList.toggle('paused', !toggle.checked);
        toggle.addEventListener('change', function() {
            localStorage.setItem(key, toggle.checked ? '0' : '1');
            bar.classList.toggle('paused', !toggle.checked);
            if (toggle.checked) {
                refresh();
            }
        });

        let inFlight = false;
        async function refresh() {
            if (inFlight || !toggle.checked || document.hidden || operatorIsBusy(bar)) {
                return;
            }
            inFlight = true;
            try {
                const response = await fetch(location.href, {credentials: 'same-origin', headers: {'X-Console-Live': '1'}});
                if (!response.ok || response.redirected) {
                    stamp.textContent = 'Update failed (HTTP ' + response.status + '); retrying';
                    bar.classList.add('failed');
                    return;
                }
                const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
                if (operatorIsBusy(bar)) {
                    return;  // the operator started something while the page was loading
                }
                targets.forEach(function(selector) {
                    const now = document.querySelector(selector);
                    const next = fresh.querySelector(selector);
                    if (now && next) {
                        now.replaceWith(document.adoptNode(next));
                    }
                });
                const freshStamp = fresh.querySelector('[data-live-seconds] .live-stamp');
                stamp.textContent = freshStamp ? freshStamp.textContent : 'Updated ' + new Date().toLocaleTimeString();
                stamp.dataset.updatedAt = freshStamp ? freshStamp.dataset.updatedAt : '';
                bar.classList.remove('failed');
                const checkboxes = document.querySelectorAll('tr input.action-select');
                if (checkboxes.length && window.Actions) {
                    window.Actions(checkboxes);  // the admin's row-selection script, on the new rows
                }
                addListCopyButtons(document);
                document.dispatchEvent(new CustomEvent('console:updated'));
            } catch (error) {
                stamp.textContent = 'Update failed (' + error.message + '); retrying';
                bar.classList.add('failed');
            } finally {
                inFlight = false;
            }
        }
        setInterval(refresh, seconds * 1000);
        document.addEventListener('visibilitychange', function() {
            if (!document.hidden) {
                refresh();
            }
        });
    }

    function ready(fn) {
        if (document.readyState !== 'loading') {
            fn();
        } else {
            document.addEventListener('DOMContentLoaded', fn);
        }
    }

    ready(function() {
        addListCopyButtons(document);
        document.querySelectorAll('[data-live-seconds]').forEach(startLive);
    });
}
