/*
 * The gallery page: reads the embedded index, keeps the state in the URL hash, draws facets,
 * chips and cards. Cards are drawn on demand (a page at a time as the list scrolls into view)
 * and kept while they stay in the result, so typing only touches what changed.
 *
 * Every text from the library is set with textContent / attributes, never parsed as HTML.
 * A classic script after gallery-core.js (file:// pages cannot load module scripts).
 */
(function () {
  'use strict';
  var core = window.CSCore;
  var root = document.getElementById('gallery');
  var data = document.getElementById('cs-index');
  if (!core || !root || !data) return;

  var PAGE = 24;
  var FACETS_AFTER_TYPING_MS = 150;
  var model = core.decodeIndex(JSON.parse(data.textContent || '{}'));
  var engine = core.createEngine(model);
  var config = {
    blur: Number(root.getAttribute('data-blur') || '3'),
    pages: root.getAttribute('data-pages') !== '0',
    extra: root.getAttribute('data-extra') || '',
  };
  var $ = function (id) { return document.getElementById(id); };
  var results = $('results');
  var more = $('more');
  var status = $('status');
  var chips = $('chips');
  var search = $('q');
  var sortSelect = $('sort');
  var dirButton = $('dir');
  var groupToggle = $('group');
  var nsfwToggle = $('show-nsfw');
  var facetsBox = $('facets');
  var filtersPanel = $('filters');
  var filtersToggle = $('filters-toggle');

  var state = core.parseHash(location.hash);
  var current = null;
  var rendered = 0;
  var revealed = new Set();
  var expanded = {};
  var facetQuery = {};
  var typing = null;
  var urlTimer = null;
  var lastHash = core.formatHash(state);
  var extraReady = false;
  /** The server-rendered first page stays until the page ids have arrived. */
  var serverCards = true;
  var timings = [];
  var gallery = (window.__csGallery = { timings: timings, state: function () { return state; }, model: model });

  // ------------------------------------------------------------ helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function storage(kind) {
    try {
      return window[kind];
    } catch (error) {
      return null;
    }
  }

  var numberFormat = new Intl.NumberFormat('en');
  function num(value) {
    return numberFormat.format(value);
  }

  function plural(count, one, many) {
    return num(count) + ' ' + (count === 1 ? one : many);
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // ------------------------------------------------------------ cards

  function badge(text, kind) {
    return el('span', 'badge' + (kind ? ' badge-' + kind : ''), text);
  }

  function fact(list, label, value) {
    if (value === '' || value === null || value === undefined) return;
    var row = el('div', 'fact fact-' + label.toLowerCase().replace(/[^a-z]+/g, '-'));
    row.appendChild(el('dt', '', label));
    row.appendChild(el('dd', '', value));
    list.appendChild(row);
  }

  function linkOf(i) {
    if (config.pages) return model.ids[i] ? 'models/' + encodeURIComponent(model.ids[i]) + '/index.html' : '';
    return (model.urls && model.urls[i]) || '';
  }

  function card(i, files) {
    var c = model.c;
    var item = el('li', 'card');
    item.setAttribute('data-i', String(i));
    var media = el('div', 'card-media');
    if (model.colours[i]) media.style.setProperty('--ph', model.colours[i]);
    if (model.hasThumb(i) && model.ids[i]) {
      var img = document.createElement('img');
      img.alt = '';
      img.loading = 'lazy';
      img.decoding = 'async';
      img.width = 480;
      img.height = 640;
      img.addEventListener('error', function () { media.classList.add('broken'); });
      img.src = 'thumbs/' + encodeURIComponent(model.ids[i]) + '.webp';
      media.appendChild(img);
    } else {
      media.appendChild(el('span', 'no-preview', 'No preview'));
    }
    if (model.isVideo(i)) media.appendChild(el('span', 'media-note', 'Video'));
    if (model.hasThumb(i) && model.coverLevel(i) >= config.blur) {
      media.classList.add('blurred');
      var reveal = el('label', 'reveal');
      var box = el('input');
      box.type = 'checkbox';
      box.checked = revealed.has(i);
      box.setAttribute('aria-label', 'Show the NSFW preview of ' + c.name[i]);
      box.addEventListener('change', function () {
        if (box.checked) revealed.add(i);
        else revealed.delete(i);
      });
      reveal.appendChild(box);
      reveal.appendChild(el('span', 'reveal-show', 'NSFW · show'));
      reveal.appendChild(el('span', 'reveal-hide', 'Hide'));
      media.appendChild(reveal);
    }
    item.appendChild(media);

    var body = el('div', 'card-body');
    var title = el('h2', 'card-title');
    var href = linkOf(i);
    var link = el(href ? 'a' : 'span', 'card-link', c.name[i]);
    if (href) {
      link.setAttribute('href', href);
      if (!config.pages) {
        link.setAttribute('target', '_blank');
        link.setAttribute('rel', 'noopener noreferrer');
      }
    }
    title.appendChild(link);
    body.appendChild(title);
    var version = model.versions && model.versions[i];
    if (version) body.appendChild(el('p', 'card-version', version));

    var meta = el('p', 'card-meta');
    meta.appendChild(badge(model.d.type[c.type[i]]));
    if (c.base[i] >= 0) meta.appendChild(badge(model.d.base[c.base[i]], 'base'));
    if (c.s[i] === 1) meta.appendChild(badge('not on CivitAI', 'warn'));
    else if (c.s[i] === 2) meta.appendChild(badge('lookup failed', 'warn'));
    if (model.hasNewer(i)) meta.appendChild(badge('update', 'new'));
    body.appendChild(meta);
    if (c.creator[i] >= 0) body.appendChild(el('p', 'card-creator', 'by ' + model.d.creator[c.creator[i]]));

    var num = model.num;
    var facts = el('dl', 'card-facts');
    fact(facts, 'Downloads', num.dl[i] === null ? '' : core.formatCount(num.dl[i]));
    fact(facts, 'Thumbs up', num.tu[i] === null ? '' : core.formatCount(num.tu[i]));
    fact(facts, 'Versions', num.vc[i] > 1 ? String(num.vc[i]) : '');
    fact(facts, 'Size', core.formatKiB(num.sz[i]));
    fact(facts, 'Updated', core.dayToDate(num.up[i]));
    fact(facts, 'Folder', model.d.folder[c.folder[i]]);
    body.appendChild(facts);

    if (files && files.length > 1) {
      var versions = el('details', 'card-versions');
      versions.appendChild(el('summary', '', plural(files.length, 'local version', 'local versions')));
      var listNode = el('ul');
      files
        .slice()
        .sort(function (a, b) { return (model.num.cr[b] || 0) - (model.num.cr[a] || 0); })
        .forEach(function (file) {
          var entry = el('li');
          var target = linkOf(file);
          var label = ((model.versions && model.versions[file]) || (model.stems && model.stems[file]) || c.name[file]) + (file === i ? ' (shown)' : '');
          var anchor = el(target ? 'a' : 'span', '', label);
          if (target) anchor.setAttribute('href', target);
          entry.appendChild(anchor);
          listNode.appendChild(entry);
        });
      versions.appendChild(listNode);
      body.appendChild(versions);
    }
    item.appendChild(body);
    return item;
  }

  /** Cards by key, so a card that stays in the result is kept, not rebuilt. */
  var cardCache = new Map();

  function cardKey(i, files) {
    return files && files.length > 1 ? i + ':' + files.join('.') : String(i);
  }

  /** The first page of the current result, keeping the cards that are already there. */
  function renderResults() {
    if (!extraReady) return;
    var list = current.list;
    var target = Math.min(list.length, PAGE);
    if (serverCards) {
      results.replaceChildren();
      serverCards = false;
    }
    var keep = new Map();
    var cursor = results.firstElementChild;
    for (var k = 0; k < target; k++) {
      var i = list[k];
      var files = current.members ? current.members.get(i) : null;
      var key = cardKey(i, files);
      var node = cardCache.get(key) || card(i, files);
      keep.set(key, node);
      if (node === cursor) cursor = cursor.nextElementSibling;
      else results.insertBefore(node, cursor);
    }
    while (cursor) {
      var next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }
    cardCache = keep;
    rendered = target;
    var left = list.length - rendered;
    more.hidden = left <= 0;
    setText(more, 'Show ' + Math.min(PAGE, left) + ' more (' + num(left) + ' left)');
    $('empty').hidden = list.length > 0;
  }

  function renderMore() {
    if (!extraReady || !current) return;
    var list = current.list;
    var end = Math.min(list.length, rendered + PAGE);
    var fragment = document.createDocumentFragment();
    for (var k = rendered; k < end; k++) {
      var i = list[k];
      var files = current.members ? current.members.get(i) : null;
      var key = cardKey(i, files);
      var node = cardCache.get(key) || card(i, files);
      cardCache.set(key, node);
      fragment.appendChild(node);
    }
    results.appendChild(fragment);
    rendered = end;
    var left = list.length - rendered;
    more.hidden = left <= 0;
    setText(more, 'Show ' + Math.min(PAGE, left) + ' more (' + num(left) + ' left)');
  }

  // ------------------------------------------------------------ facets

  var facetNodes = {};
  var present = {};

  function buildFacetSections() {
    core.FACETS.forEach(function (facet) {
      var labels = engine.facets.filter(function (f) { return f.key === facet.key; })[0].labels;
      var section = el('section', 'facet');
      section.setAttribute('data-facet', facet.key);
      var details = el('details');
      details.open = true;
      var summary = el('summary');
      summary.appendChild(el('h3', '', facet.label));
      var selectedCount = el('span', 'facet-selected');
      summary.appendChild(selectedCount);
      details.appendChild(summary);
      if (labels.length > 12 && !facet.fixedOrder) {
        var filter = el('input', 'facet-filter');
        filter.type = 'search';
        filter.placeholder = 'Filter ' + facet.label.toLowerCase() + '…';
        filter.setAttribute('aria-label', 'Filter the ' + facet.label.toLowerCase() + ' list');
        filter.addEventListener('input', function () {
          facetQuery[facet.key] = core.fold(filter.value.trim());
          renderFacet(facet);
        });
        details.appendChild(filter);
      }
      var fieldset = el('fieldset');
      fieldset.appendChild(el('legend', 'sr-only', facet.label));
      var values = el('ul', 'facet-values');
      fieldset.appendChild(values);
      details.appendChild(fieldset);
      var toggle = el('button', 'facet-more');
      toggle.type = 'button';
      toggle.addEventListener('click', function () {
        expanded[facet.key] = !expanded[facet.key];
        renderFacet(facet);
      });
      details.appendChild(toggle);
      section.appendChild(details);
      facetsBox.appendChild(section);
      facetNodes[facet.key] = { section: section, values: values, toggle: toggle, selectedCount: selectedCount, labels: labels, rows: new Map(), order: '' };
    });
  }

  function facetRow(facet, nodes, id) {
    var row = nodes.rows.get(id);
    if (row) return row;
    var label = nodes.labels[id];
    row = el('li');
    if (facet.tree) row.style.setProperty('--depth', String(model.folderDepth[id]));
    var wrap = el('label');
    var box = el('input');
    box.type = 'checkbox';
    box.value = label;
    box.setAttribute('data-facet', facet.key);
    wrap.appendChild(box);
    var name = facet.tree ? label.slice(label.lastIndexOf('/') + 1) : label;
    wrap.appendChild(el('span', 'facet-value', name));
    if (facet.tree) wrap.title = label;
    var count = el('span', 'facet-count');
    wrap.appendChild(count);
    row.appendChild(wrap);
    row.__box = box;
    row.__count = count;
    nodes.rows.set(id, row);
    return row;
  }

  function compareLabels(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function renderFacet(facet) {
    var nodes = facetNodes[facet.key];
    var counts = current.counts[facet.key];
    var labels = nodes.labels;
    var chosen = new Set(state.filters[facet.key]);
    var query = facetQuery[facet.key] || '';
    var isPresent = present[facet.key];
    var ids = [];
    for (var v = 0; v < labels.length; v++) {
      var selected = chosen.has(labels[v]);
      if (!isPresent[v] && !selected) continue;
      if (query && !selected && core.fold(labels[v]).indexOf(query) < 0) continue;
      if (counts[v] === 0 && !selected && !facet.fixedOrder) continue;
      ids.push(v);
    }
    if (facet.tree) ids.sort(function (a, b) { return compareLabels(labels[a], labels[b]); });
    else if (!facet.fixedOrder) ids.sort(function (a, b) { return counts[b] - counts[a] || compareLabels(labels[a], labels[b]); });
    var limit = expanded[facet.key] || query ? Infinity : facet.tree ? 30 : 10;
    var shown = [];
    for (var k = 0; k < ids.length; k++) if (k < limit || chosen.has(labels[ids[k]])) shown.push(ids[k]);
    var order = shown.join(',');
    if (order !== nodes.order) {
      // Rows are reused: the focused checkbox stays the same element.
      var cursor = nodes.values.firstElementChild;
      shown.forEach(function (id) {
        var row = facetRow(facet, nodes, id);
        if (row === cursor) cursor = cursor.nextElementSibling;
        else nodes.values.insertBefore(row, cursor);
      });
      while (cursor) {
        var next = cursor.nextElementSibling;
        cursor.remove();
        cursor = next;
      }
      nodes.order = order;
    }
    shown.forEach(function (id) {
      var row = nodes.rows.get(id);
      var checked = chosen.has(labels[id]);
      if (row.__box.checked !== checked) row.__box.checked = checked;
      var disabled = counts[id] === 0 && !checked;
      if (row.__box.disabled !== disabled) row.__box.disabled = disabled;
      setText(row.__count, num(counts[id]));
    });
    var hidden = ids.length - shown.length;
    nodes.toggle.hidden = !expanded[facet.key] && hidden <= 0;
    setText(nodes.toggle, expanded[facet.key] ? 'Show fewer' : 'Show all ' + num(ids.length));
    nodes.toggle.setAttribute('aria-expanded', expanded[facet.key] ? 'true' : 'false');
    setText(nodes.selectedCount, chosen.size ? String(chosen.size) : '');
    nodes.section.hidden = !nodes.any && chosen.size === 0;
  }

  function renderFacets() {
    core.FACETS.forEach(renderFacet);
  }

  // ------------------------------------------------------------ chips and status

  function chip(text, onRemove) {
    var button = el('button', 'chip chip-remove');
    button.type = 'button';
    button.appendChild(el('span', '', text));
    button.appendChild(el('span', 'chip-x', '×'));
    button.setAttribute('aria-label', 'Remove filter ' + text);
    button.addEventListener('click', onRemove);
    return button;
  }

  var chipsKey = null;

  function renderChips() {
    var key = JSON.stringify([state.q, state.filters]);
    if (key === chipsKey) return;
    chipsKey = key;
    var fragment = document.createDocumentFragment();
    var count = 0;
    if (state.q) {
      count++;
      fragment.appendChild(chip('Search: ' + state.q, function () {
        state.q = '';
        search.value = '';
        apply('push');
        search.focus();
      }));
    }
    core.FACETS.forEach(function (facet) {
      state.filters[facet.key].forEach(function (value) {
        count++;
        fragment.appendChild(chip(facet.label + ': ' + value, function () {
          state.filters[facet.key] = state.filters[facet.key].filter(function (v) { return v !== value; });
          apply('push');
          var next = chips.querySelector('button');
          (next || search).focus();
        }));
      });
    });
    if (count > 1) {
      var clear = el('button', 'chip-clear', 'Clear all');
      clear.type = 'button';
      clear.addEventListener('click', clearAll);
      fragment.appendChild(clear);
    }
    chips.replaceChildren(fragment);
    var active = count - (state.q ? 1 : 0);
    setText($('filters-count'), active ? String(active) : '');
  }

  function clearAll() {
    var kept = { view: state.view, group: state.group, sort: state.sort, dir: state.dir };
    state = core.defaultState();
    state.view = kept.view;
    state.group = kept.group;
    state.sort = kept.sort;
    state.dir = kept.dir;
    syncControls();
    apply('push');
    search.focus();
  }

  function renderStatus() {
    var unit = state.group ? ['model', 'models'] : ['model file', 'model files'];
    var text =
      current.list.length === current.total
        ? plural(current.total, unit[0], unit[1])
        : 'Showing ' + num(current.list.length) + ' of ' + plural(current.total, unit[0], unit[1]);
    setText(status, text);
  }

  // ------------------------------------------------------------ state

  function syncControls() {
    search.value = state.q;
    sortSelect.value = state.sort;
    var descending = state.dir === 'desc';
    dirButton.setAttribute('aria-label', descending ? 'Sort descending (click for ascending)' : 'Sort ascending (click for descending)');
    dirButton.setAttribute('data-dir', state.dir);
    setText(dirButton.querySelector('.dir-text'), descending ? 'Desc' : 'Asc');
    groupToggle.checked = state.group;
    Array.prototype.forEach.call(document.querySelectorAll('[data-view]'), function (button) {
      button.setAttribute('aria-pressed', button.getAttribute('data-view') === state.view ? 'true' : 'false');
    });
    results.className = 'results view-' + state.view;
  }

  var facetsTimer = null;

  /**
   * Applies the state to the page; `history`: 'push' (a new entry), 'replace', or 'none'.
   * `whileTyping`: the facet counts follow once typing pauses, so a keystroke pays for the
   * results only (at 10,000 models the counts were the larger part of a keystroke's work).
   */
  function apply(history, whileTyping) {
    var started = performance.now();
    current = engine.run(state);
    var ran = performance.now();
    clearTimeout(facetsTimer);
    facetsTimer = null;
    if (whileTyping) facetsTimer = setTimeout(function () { facetsTimer = null; renderFacets(); }, FACETS_AFTER_TYPING_MS);
    else renderFacets();
    renderChips();
    renderStatus();
    var drawn = performance.now();
    results.className = 'results view-' + state.view;
    renderResults();
    var hash = core.formatHash(state);
    if (history !== 'none' && hash !== lastHash) {
      // Clicks get a new history entry at once; typing updates the URL when it pauses (browsers
      // throttle history calls, and a keystroke should not pay for one).
      if (history === 'push') writeUrl(hash, true);
      else {
        clearTimeout(urlTimer);
        urlTimer = setTimeout(function () { writeUrl(core.formatHash(state), false); }, 300);
      }
    }
    lastHash = hash;
    var end = performance.now();
    timings.push({ total: end - started, engine: ran - started, controls: drawn - ran, cards: end - drawn });
    if (timings.length > 500) timings.shift();
  }

  function writeUrl(hash, push) {
    clearTimeout(urlTimer);
    urlTimer = null;
    var url = location.pathname + location.search + (hash ? '#' + hash : '');
    try {
      if (push) window.history.pushState(null, '', url || '#');
      else window.history.replaceState(null, '', url || '#');
    } catch (error) {
      // Some file:// setups refuse history changes; the page still works.
    }
    var session = storage('sessionStorage');
    if (session) session.setItem('cs.gallery.hash', hash);
  }

  function fromLocation() {
    var next = core.parseHash(location.hash);
    if (core.formatHash(next) === lastHash) return;
    state = next;
    lastHash = core.formatHash(state);
    syncControls();
    apply('none');
  }

  // ------------------------------------------------------------ events

  search.addEventListener('input', function () {
    state.q = search.value;
    // One history entry per burst of typing, updated as it goes.
    apply(typing ? 'replace' : 'push', true);
    clearTimeout(typing);
    typing = setTimeout(function () { typing = null; }, 800);
  });
  search.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && search.value) {
      event.preventDefault();
      search.value = '';
      state.q = '';
      apply('push');
    }
  });
  sortSelect.addEventListener('change', function () {
    state.sort = sortSelect.value;
    state.dir = core.sortDefaultDir(state.sort);
    syncControls();
    apply('push');
  });
  dirButton.addEventListener('click', function () {
    state.dir = state.dir === 'asc' ? 'desc' : 'asc';
    syncControls();
    apply('push');
  });
  groupToggle.addEventListener('change', function () {
    state.group = groupToggle.checked;
    apply('push');
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-view]'), function (button) {
    button.addEventListener('click', function () {
      state.view = button.getAttribute('data-view');
      syncControls();
      apply('push');
    });
  });
  facetsBox.addEventListener('change', function (event) {
    var box = event.target;
    if (!box || box.tagName !== 'INPUT' || !box.getAttribute('data-facet')) return;
    var key = box.getAttribute('data-facet');
    var values = state.filters[key].filter(function (v) { return v !== box.value; });
    if (box.checked) values.push(box.value);
    state.filters[key] = values;
    apply('push');
  });
  more.addEventListener('click', renderMore);
  if ('IntersectionObserver' in window) {
    new IntersectionObserver(
      function (entries) {
        if (entries.some(function (entry) { return entry.isIntersecting; }) && !more.hidden) renderMore();
      },
      { rootMargin: '1200px 0px' },
    ).observe(more);
  }
  window.addEventListener('popstate', fromLocation);
  window.addEventListener('hashchange', fromLocation);
  document.addEventListener('keydown', function (event) {
    var target = event.target;
    var inField = target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA');
    if (event.key === '/' && !inField && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });
  filtersToggle.addEventListener('click', function () {
    var open = filtersToggle.getAttribute('aria-expanded') !== 'true';
    filtersToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    filtersPanel.classList.toggle('open', open);
    if (open) {
      var first = filtersPanel.querySelector('input, button, summary');
      if (first) first.focus();
    }
  });
  $('filters-close').addEventListener('click', function () {
    filtersToggle.setAttribute('aria-expanded', 'false');
    filtersPanel.classList.remove('open');
    filtersToggle.focus();
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && filtersPanel.classList.contains('open')) $('filters-close').click();
  });

  var local = storage('localStorage');
  function setNsfw(show) {
    document.documentElement.classList.toggle('show-nsfw', show);
    nsfwToggle.checked = show;
  }
  setNsfw(Boolean(local && local.getItem('cs.showNsfw') === '1'));
  nsfwToggle.addEventListener('change', function () {
    setNsfw(nsfwToggle.checked);
    if (local) local.setItem('cs.showNsfw', nsfwToggle.checked ? '1' : '0');
  });

  // Back from a model page: draw as many cards as before so the scroll position comes back.
  window.addEventListener('pagehide', function () {
    if (urlTimer) writeUrl(lastHash, false);
    var session = storage('sessionStorage');
    if (session) session.setItem('cs.gallery.scroll', JSON.stringify({ hash: lastHash, rendered: rendered, y: window.scrollY }));
  });

  // ------------------------------------------------------------ start

  function restoreScroll() {
    var session = storage('sessionStorage');
    var saved = null;
    try {
      saved = session && JSON.parse(session.getItem('cs.gallery.scroll') || 'null');
    } catch (error) {
      saved = null;
    }
    if (saved && saved.hash === lastHash && saved.rendered > rendered) {
      while (rendered < saved.rendered && rendered < current.list.length) renderMore();
      window.scrollTo(0, saved.y);
    }
  }

  /** The second part of the index has arrived: cards can be drawn, search sees file names too. */
  function onExtra() {
    if (extraReady || !window.__csExtra) return;
    if (!core.attachExtra(model, window.__csExtra)) return;
    extraReady = true;
    gallery.extraMs = performance.now();
    apply('none');
    restoreScroll();
  }

  (function start() {
    var counts = engine.run(core.defaultState()).counts;
    core.FACETS.forEach(function (facet) {
      var values = counts[facet.key];
      present[facet.key] = Array.prototype.map.call(values, function (count) { return count > 0; });
    });
    buildFacetSections();
    core.FACETS.forEach(function (facet) {
      facetNodes[facet.key].any = present[facet.key].some(Boolean);
    });
    root.classList.add('js');
    Array.prototype.forEach.call(document.querySelectorAll('[data-js-only]'), function (node) { node.hidden = false; });
    syncControls();
    apply('none');
    gallery.bootMs = performance.now();
    window.__csOnExtra = onExtra;
    if (window.__csExtra) onExtra();
    else if (config.extra) {
      var script = document.createElement('script');
      script.src = config.extra;
      script.async = true;
      script.addEventListener('error', function () {
        setText(status, 'The search index could not be loaded (' + config.extra + ').');
      });
      document.body.appendChild(script);
    }
  })();
})();
