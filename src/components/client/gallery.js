/*
 * The gallery page: reads the index's core (gallery-data/core-*.js, loaded just before this
 * script as `window.__csCore`), keeps the state in the URL hash, draws facets,
 * chips and cards. Cards are drawn on demand (a page at a time as the list scrolls into view)
 * and kept while they stay in the result, so typing only touches what changed.
 *
 * Every text from the library is set with textContent / attributes, never parsed as HTML.
 * A classic script after gallery-core.js (file:// pages cannot load module scripts).
 */
(function () {
  'use strict';
  var core = window.CSCore;
  var common = window.CSCommon;
  var root = document.getElementById('gallery');
  if (!core || !common || !root) return;
  if (!window.__csCore) {
    // The core did not load (a copy of the site without its gallery-data/ folder): the page
    // stays as it was rendered, its first cards and the link to the plain list.
    var note = document.getElementById('status');
    if (note) note.textContent = 'The search index could not be loaded (gallery-data/ is missing); the plain list has every model.';
    return;
  }
  var personal = common.personal;

  var PAGE = 24;
  var FACETS_AFTER_TYPING_MS = 150;
  var model = core.decodeIndex(window.__csCore);
  // What decodeIndex did not keep can go.
  window.__csCore = undefined;
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
  var backdrop = $('filters-backdrop');
  var hiddenToggle = $('show-hidden');
  var jumpBar = $('jump');
  var personalStatus = $('personal-status');
  var phone = window.matchMedia ? window.matchMedia('(max-width: 860px)') : { matches: false };

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
  /** Page id → position, once the ids have arrived. */
  var positionOf = new Map();
  /** Favourite (1) per position, for drawing cards. */
  var favourites = new Uint8Array(model.n);
  var hiddenByUser = new Uint8Array(model.n);
  var userTags = new Array(model.n);
  var initials = model.c.name.map(core.initialOf);

  // ------------------------------------------------------------ helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var storage = common.storage;

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
    var row = el('div', 'fact fact-' + label.toLowerCase().replace(/[^a-z]+/g, '-').replace(/-+$/, ''));
    row.appendChild(el('dt', '', label));
    row.appendChild(el('dd', '', value));
    list.appendChild(row);
  }

  function linkOf(i) {
    if (config.pages) return model.ids[i] ? 'models/' + encodeURIComponent(model.ids[i]) + '/index.html' : '';
    return (model.urls && model.urls[i]) || '';
  }

  function markButton(kind, label, title) {
    var button = el('button', 'mark-button mark-' + (kind === 'favourite' ? 'favourite' : 'hide'));
    button.type = 'button';
    button.setAttribute('data-personal', kind);
    button.setAttribute('aria-label', label);
    button.title = title;
    button.appendChild(el('span', 'mark-icon')).setAttribute('aria-hidden', 'true');
    return button;
  }

  function actionButton(what, label, text, title) {
    var button = el('button', 'card-action', text);
    button.type = 'button';
    button.setAttribute('data-copy-what', what);
    button.setAttribute('aria-label', label);
    button.title = title;
    return button;
  }

  /** Favourite / hidden state and your tags on a card (drawn or server-rendered). */
  function paintPersonal(item, i) {
    var fav = favourites[i] === 1;
    var hid = hiddenByUser[i] === 1;
    item.classList.toggle('is-favourite', fav);
    item.classList.toggle('is-hidden', hid);
    var favButton = item.querySelector('[data-personal="favourite"]');
    if (favButton) favButton.setAttribute('aria-pressed', fav ? 'true' : 'false');
    var hideButton = item.querySelector('[data-personal="hidden"]');
    if (hideButton) hideButton.setAttribute('aria-pressed', hid ? 'true' : 'false');
    var usage = item.querySelector('[data-copy-what="usage"]');
    if (usage && model.extra) usage.title = 'Copy ' + usageOf(i);
    var tags = userTags[i] || [];
    var line = item.querySelector('.card-mytags');
    if (!tags.length) {
      if (line) line.remove();
      return;
    }
    if (!line) {
      line = el('p', 'card-mytags');
      var facts = item.querySelector('.card-facts');
      item.querySelector('.card-body').insertBefore(line, facts ? facts.nextSibling : null);
    }
    setText(line, 'Your tags: ' + tags.join(', '));
  }

  /** Your weight (this browser, else the curation file), else the sidecars' preferred weight, else 1. */
  function usageOf(i) {
    var entry = model.ids[i] ? personal.get(model.ids[i]) : {};
    return model.usage(i, typeof entry.weight === 'number' ? entry.weight : model.sidecarWeight(i));
  }

  /** Linked by hand, removed from CivitAI, missing, and a source other than CivitAI. */
  function statusBadges(meta, i) {
    if (model.isLinked(i)) {
      var linked = badge('linked by hand', 'linked');
      linked.title = 'Linked to its CivitAI version by hand (civitscraper link), not found by its hash';
      meta.appendChild(linked);
    }
    if (model.isRemoved(i)) {
      var removed = badge('removed from CivitAI', 'removed');
      removed.title = 'CivitAI no longer has this model; what it said before is kept';
      meta.appendChild(removed);
    }
    if (model.isMissing(i)) {
      var missing = badge('missing', 'missing');
      missing.title = 'The file was not found by the last scan (a disk or share offline, or deleted)';
      meta.appendChild(missing);
    }
    var source = model.source(i);
    if (source > 0 && core.SOURCE_LABELS[source]) meta.appendChild(badge('via ' + core.SOURCE_LABELS[source], 'source'));
  }

  function card(i, files) {
    var c = model.c;
    var item = el('li', 'card' + (model.isMissing(i) ? ' is-missing' : ''));
    item.setAttribute('data-i', String(i));
    if (model.ids[i]) item.setAttribute('data-id', model.ids[i]);
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
      reveal.appendChild(el('span', 'reveal-hide', 'Blur'));
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
    statusBadges(meta, i);
    if (model.sameFile(i) || model.sameVersion(i)) {
      var dup = badge('duplicate', 'dup');
      dup.title = model.sameFile(i)
        ? 'Another file of the library has the same bytes (SHA-256)'
        : 'Another file of the library is the same CivitAI version';
      meta.appendChild(dup);
    }
    body.appendChild(meta);
    if (c.creator[i] >= 0) body.appendChild(el('p', 'card-creator', 'by ' + model.d.creator[c.creator[i]]));

    var num = model.num;
    var facts = el('dl', 'card-facts');
    fact(facts, 'Downloads', num.dl[i] === null ? '' : core.formatCount(num.dl[i]));
    fact(facts, 'Thumbs up', num.tu[i] === null ? '' : core.formatCount(num.tu[i]));
    fact(facts, 'Versions', num.vc[i] > 1 ? String(num.vc[i]) : '');
    fact(facts, 'Size', core.formatKiB(num.sz[i]));
    fact(facts, 'Updated', core.dayToDate(num.up[i]));
    fact(facts, 'Created', core.dayToDate(num.cr[i]));
    fact(facts, 'Rating', num.ra[i] === null || num.ra[i] === undefined ? '' : (num.ra[i] / 10).toFixed(1));
    fact(facts, 'Added', core.dayToDate(num.ad[i]));
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
    var actions = el('div', 'card-actions');
    var usage = model.usage(i);
    if (usage) actions.appendChild(actionButton('usage', 'Copy usage', 'Usage', 'Copy ' + usage));
    if (model.triggers && model.triggers[i]) actions.appendChild(actionButton('triggers', 'Copy trigger words', 'Trigger words', 'Copy the trigger words'));
    if (model.path(i)) actions.appendChild(actionButton('path', 'Copy path', 'Path', "Copy the file's path"));
    if (actions.firstChild) body.appendChild(actions);
    item.appendChild(body);
    var marks = el('div', 'card-marks');
    marks.appendChild(markButton('favourite', 'Favourite', 'Favourite'));
    marks.appendChild(markButton('hidden', 'Hide', 'Hide from the gallery'));
    item.appendChild(marks);
    paintPersonal(item, i);
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
  /** Per facet: whether each value occurs in the library at all, and how often. */
  var present = {};
  var libraryCounts = {};

  var COLLAPSED_KEY = 'cs.gallery.collapsed';
  var collapsed = (function () {
    var local = storage('localStorage');
    try {
      var list = JSON.parse((local && local.getItem(COLLAPSED_KEY)) || '[]');
      return Array.isArray(list) ? list : [];
    } catch (error) {
      return [];
    }
  })();

  function engineFacet(key) {
    return engine.facets.filter(function (f) { return f.key === key; })[0];
  }

  function setCollapsed(key, isCollapsed) {
    var nodes = facetNodes[key];
    nodes.button.setAttribute('aria-expanded', isCollapsed ? 'false' : 'true');
    nodes.body.hidden = isCollapsed;
    nodes.section.classList.toggle('collapsed', isCollapsed);
    collapsed = collapsed.filter(function (k) { return k !== key; });
    if (isCollapsed) collapsed.push(key);
    var local = storage('localStorage');
    if (local) local.setItem(COLLAPSED_KEY, JSON.stringify(collapsed));
  }

  function buildFacetSections() {
    core.FACETS.forEach(function (facet) {
      var labels = engineFacet(facet.key).labels;
      var section = el('section', 'facet');
      section.setAttribute('data-facet', facet.key);
      var heading = el('h3', 'facet-head');
      var button = el('button', 'facet-toggle');
      button.type = 'button';
      button.id = 'facet-toggle-' + facet.key;
      button.setAttribute('aria-controls', 'facet-body-' + facet.key);
      button.setAttribute('aria-expanded', 'true');
      button.appendChild(el('span', 'facet-label', facet.label));
      var selectedCount = el('span', 'facet-selected');
      button.appendChild(selectedCount);
      button.appendChild(el('span', 'facet-chevron')).setAttribute('aria-hidden', 'true');
      heading.appendChild(button);
      section.appendChild(heading);
      var details = el('div', 'facet-body');
      details.id = 'facet-body-' + facet.key;
      button.addEventListener('click', function () {
        setCollapsed(facet.key, button.getAttribute('aria-expanded') === 'true');
      });
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
      facetNodes[facet.key] = {
        section: section, button: button, body: details, values: values, toggle: toggle, selectedCount: selectedCount,
        labels: labels, rows: new Map(), order: '',
      };
      if (collapsed.indexOf(facet.key) >= 0) setCollapsed(facet.key, true);
    });
  }

  /** The labels of a facet made from personal data changed: its rows start over. */
  function resetFacet(key) {
    var nodes = facetNodes[key];
    var facet = engineFacet(key);
    nodes.labels = facet.labels;
    nodes.rows = new Map();
    nodes.order = '';
    nodes.values.replaceChildren();
    present[key] = facet.labels.map(function () { return true; });
    libraryCounts[key] = null;
    nodes.any = key === 'mine' || facet.labels.length > 0;
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
    // Values of this library stay listed when the other filters leave them no model: greyed, so
    // the list does not jump about as you filter.
    for (var v = 0; v < labels.length; v++) {
      var selected = chosen.has(labels[v]);
      if (!isPresent[v] && !selected) continue;
      if (query && !selected && core.fold(labels[v]).indexOf(query) < 0) continue;
      ids.push(v);
    }
    if (facet.tree) ids.sort(function (a, b) { return compareLabels(labels[a], labels[b]); });
    else if (!facet.fixedOrder) {
      ids.sort(function (a, b) {
        var totals = libraryCounts[facet.key] || counts;
        return (counts[b] > 0) - (counts[a] > 0) || (totals[b] || 0) - (totals[a] || 0) || compareLabels(labels[a], labels[b]);
      });
    }
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
      row.classList.toggle('empty-value', counts[id] === 0);
      setText(row.__count, num(counts[id] || 0));
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
    var kept = { view: state.view, group: state.group, sort: state.sort, dir: state.dir, hidden: state.hidden };
    state = core.defaultState();
    state.hidden = kept.hidden;
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
    if (current.hidden > 0) text += ' · ' + num(current.hidden) + ' hidden';
    setText(status, text);
    setText($('hidden-count'), current.hiddenTotal ? '(' + num(current.hiddenTotal) + ')' : '');
  }

  // ------------------------------------------------------------ A–Z

  var jumpKey = null;

  /** Letters of the current result (sorted by name): a letter jumps to its first card. */
  function renderJump() {
    var show = state.sort === 'name' && extraReady && current.list.length > 0;
    jumpBar.hidden = !show;
    if (!show) return;
    var first = {};
    for (var k = 0; k < current.list.length; k++) {
      var letter = initials[current.list[k]];
      if (first[letter] === undefined) first[letter] = k;
    }
    var key = state.dir + JSON.stringify(first);
    if (key === jumpKey) return;
    jumpKey = key;
    var letters = '#ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
    if (state.dir === 'desc') letters.reverse();
    var focused = jumpBar.contains(document.activeElement) ? document.activeElement.getAttribute('data-letter') : null;
    var fragment = document.createDocumentFragment();
    var tabbable = null;
    letters.forEach(function (letter) {
      var button = el('button', 'jump-letter', letter);
      button.type = 'button';
      button.setAttribute('data-letter', letter);
      button.tabIndex = -1;
      if (first[letter] === undefined) {
        button.disabled = true;
        button.setAttribute('aria-label', letter === '#' ? 'Other characters: no model' : letter + ': no model');
      } else {
        button.setAttribute('data-at', String(first[letter]));
        button.setAttribute('aria-label', letter === '#' ? 'Names starting with other characters' : 'Names starting with ' + letter);
        if (!tabbable || letter === focused) tabbable = button;
      }
      fragment.appendChild(button);
    });
    if (tabbable) tabbable.tabIndex = 0;
    jumpBar.replaceChildren(fragment);
    if (focused && tabbable) tabbable.focus();
  }

  /** Draws cards down to position `at` of the result and focuses that card. */
  function focusResult(at) {
    while (rendered <= at && rendered < current.list.length) renderMore();
    var node = results.children[at];
    var link = node && node.querySelector('.card-link, .mark-button');
    if (link) {
      link.focus();
      return true;
    }
    return false;
  }

  jumpBar.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('[data-at]') : null;
    if (!button) return;
    Array.prototype.forEach.call(jumpBar.querySelectorAll('button'), function (other) { other.tabIndex = other === button ? 0 : -1; });
    focusResult(Number(button.getAttribute('data-at')));
  });
  // One tab stop: the arrow keys move between the letters (a toolbar).
  jumpBar.addEventListener('keydown', function (event) {
    var buttons = Array.prototype.filter.call(jumpBar.querySelectorAll('button'), function (button) { return !button.disabled; });
    var at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    var next = -1;
    if (event.key === 'ArrowRight' || event.key === 'ArrowDown') next = Math.min(buttons.length - 1, at + 1);
    else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') next = Math.max(0, at - 1);
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = buttons.length - 1;
    if (next < 0) return;
    event.preventDefault();
    buttons[at].tabIndex = -1;
    buttons[next].tabIndex = 0;
    buttons[next].focus();
  });

  // ------------------------------------------------------------ state

  function syncControls() {
    search.value = state.q;
    sortSelect.value = state.sort;
    var descending = state.dir === 'desc';
    dirButton.title = descending ? 'Descending: click for ascending' : 'Ascending: click for descending';
    dirButton.setAttribute('data-dir', state.dir);
    setText(dirButton.querySelector('.dir-text'), descending ? 'Descending' : 'Ascending');
    groupToggle.checked = state.group;
    hiddenToggle.checked = state.hidden;
    Array.prototype.forEach.call(document.querySelectorAll('[data-view]'), function (button) {
      button.setAttribute('aria-pressed', button.getAttribute('data-view') === state.view ? 'true' : 'false');
    });
    results.className = 'results view-' + state.view;
    results.setAttribute('data-sort', state.sort);
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
    results.setAttribute('data-sort', state.sort);
    renderResults();
    renderJump();
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

  // ------------------------------------------------------------ personal data

  /** Reads the browser's store into the engine (by position) and repaints what shows it. */
  function refreshPersonal() {
    if (!extraReady) return;
    var noted = new Uint8Array(model.n);
    favourites = new Uint8Array(model.n);
    hiddenByUser = new Uint8Array(model.n);
    userTags = new Array(model.n);
    personal.ids().forEach(function (id) {
      var i = positionOf.get(id);
      if (i === undefined) return;
      var entry = personal.get(id);
      if (entry.favourite) favourites[i] = 1;
      if (entry.hidden) hiddenByUser[i] = 1;
      if (entry.note) noted[i] = 1;
      if (entry.tags) userTags[i] = entry.tags;
    });
    engine.setPersonal({ fav: favourites, hidden: hiddenByUser, noted: noted, tags: userTags });
    resetFacet('mine');
    resetFacet('mytag');
    Array.prototype.forEach.call(results.children, function (item) {
      var i = item.getAttribute('data-i');
      if (i !== null) paintPersonal(item, Number(i));
    });
  }

  function say(text) {
    personalStatus.textContent = '';
    personalStatus.textContent = text;
  }

  function togglePersonal(button) {
    var item = button.closest('.card');
    if (!item) return;
    var drawn = item.getAttribute('data-i') !== null;
    var i = drawn ? Number(item.getAttribute('data-i')) : -1;
    // A server-rendered card (before the page ids have arrived) carries its id itself.
    var id = drawn ? model.ids[i] : item.getAttribute('data-id');
    if (!id) return;
    var kind = button.getAttribute('data-personal');
    var on = button.getAttribute('aria-pressed') !== 'true';
    var position = Array.prototype.indexOf.call(results.children, item);
    personal.update(id, function (entry) {
      if (on) entry[kind] = true;
      else delete entry[kind];
    });
    if (!drawn) {
      button.setAttribute('aria-pressed', on ? 'true' : 'false');
      return;
    }
    if (kind === 'hidden' && on && !state.hidden) {
      // The card leaves the result: focus moves on to the card that takes its place.
      setText(status, status.textContent + ' · “' + model.c.name[i] + '” is hidden (Show hidden brings it back)');
      var next = results.children[position] || results.children[position - 1];
      var target = next && next.querySelector('.card-link');
      if (target) target.focus();
      else search.focus();
    }
  }

  results.addEventListener('click', function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var mark = target.closest('[data-personal]');
    if (mark) {
      event.preventDefault();
      togglePersonal(mark);
      return;
    }
    var action = target.closest('[data-copy-what]');
    if (!action) return;
    event.preventDefault();
    var item = action.closest('.card');
    var i = item && item.getAttribute('data-i') !== null ? Number(item.getAttribute('data-i')) : -1;
    var what = action.getAttribute('data-copy-what');
    var text = action.getAttribute('data-copy') || '';
    if (i >= 0) {
      if (what === 'usage') text = usageOf(i);
      else if (what === 'triggers') text = (model.triggers && model.triggers[i]) || '';
      else if (what === 'path') text = model.path(i);
    }
    if (text) common.copyWithFeedback(text, action, status);
  });

  personal.onChange(function () {
    refreshPersonal();
    if (current) apply('none');
  });

  $('personal-export').addEventListener('click', function () {
    var text = personal.exportText(function (id) {
      var i = positionOf.get(id);
      return i === undefined ? '' : model.c.name[i];
    });
    common.download('civitscraper-personal-' + new Date().toISOString().slice(0, 10) + '.json', text);
    say('Exported ' + plural(personal.count(), 'model', 'models') + '.');
  });
  $('personal-import').addEventListener('click', function () { $('personal-file').click(); });
  $('personal-file').addEventListener('change', function () {
    var input = $('personal-file');
    var file = input.files && input.files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.addEventListener('load', function () {
      try {
        var count = personal.importText(String(reader.result || ''));
        say('Imported ' + plural(count, 'model', 'models') + '.');
      } catch (error) {
        say('Nothing imported: ' + error.message);
      }
      input.value = '';
    });
    reader.readAsText(file);
  });
  if (!personal.persistent) say('This browser does not keep data for this page: favourites last until it is closed.');

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
  hiddenToggle.addEventListener('change', function () {
    state.hidden = hiddenToggle.checked;
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
    if (event.key === '/' && !inField && !event.ctrlKey && !event.metaKey && !event.altKey && !drawerOpen()) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  // "Skip to results": straight to the first card (the filters come first in the page).
  Array.prototype.forEach.call(document.querySelectorAll('[data-skip-results]'), function (link) {
    link.addEventListener('click', function (event) {
      event.preventDefault();
      if (!current || !current.list.length || !focusResult(0)) {
        ($('empty').hidden ? results : $('empty')).focus();
      }
    });
  });

  // ------------------------------------------------------------ the filters: sidebar or drawer

  var SIDEBAR_KEY = 'cs.gallery.filters';
  var opener = null;

  function drawerOpen() {
    return filtersPanel.classList.contains('open');
  }

  /** What is outside the drawer while it is open: inert, so focus and clicks stay in it. */
  function outside() {
    var nodes = [];
    Array.prototype.forEach.call(document.body.children, function (node) {
      if (!node.contains(filtersPanel) && node.tagName !== 'SCRIPT') nodes.push(node);
    });
    Array.prototype.forEach.call(document.querySelectorAll('.site-header, .gallery-main, .skip-link'), function (node) {
      if (nodes.indexOf(node) < 0) nodes.push(node);
    });
    return nodes;
  }

  function setDrawer(open) {
    if (open === drawerOpen()) return;
    if (open) opener = document.activeElement;
    filtersPanel.classList.toggle('open', open);
    backdrop.hidden = !open;
    filtersToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      filtersPanel.setAttribute('role', 'dialog');
      filtersPanel.setAttribute('aria-modal', 'true');
    } else {
      filtersPanel.removeAttribute('role');
      filtersPanel.removeAttribute('aria-modal');
    }
    outside().forEach(function (node) {
      if (open) node.setAttribute('inert', '');
      else node.removeAttribute('inert');
    });
    document.documentElement.classList.toggle('drawer-open', open);
    if (open) {
      var first = focusables()[0];
      if (first) first.focus();
    } else if (opener && opener.focus) {
      opener.focus();
      opener = null;
    }
  }

  function focusables() {
    return Array.prototype.filter.call(
      filtersPanel.querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])'),
      function (node) { return !node.disabled && !node.hidden && node.getClientRects().length > 0; },
    );
  }

  function sidebarShown() {
    return !root.classList.contains('filters-collapsed');
  }

  function setSidebar(shown, remember) {
    root.classList.toggle('filters-collapsed', !shown);
    if (!phone.matches) filtersToggle.setAttribute('aria-expanded', shown ? 'true' : 'false');
    if (remember) {
      var local = storage('localStorage');
      if (local) local.setItem(SIDEBAR_KEY, shown ? 'shown' : 'collapsed');
    }
  }

  function syncFiltersMode() {
    if (phone.matches) filtersToggle.setAttribute('aria-expanded', drawerOpen() ? 'true' : 'false');
    else {
      setDrawer(false);
      filtersToggle.setAttribute('aria-expanded', sidebarShown() ? 'true' : 'false');
    }
  }

  filtersToggle.addEventListener('click', function () {
    if (phone.matches) setDrawer(!drawerOpen());
    else setSidebar(!sidebarShown(), true);
  });
  $('filters-close').addEventListener('click', function () {
    if (phone.matches) setDrawer(false);
    else {
      setSidebar(false, true);
      filtersToggle.focus();
    }
  });
  // A tap beside the drawer closes it and goes no further (the card under it stays shut).
  backdrop.addEventListener('click', function (event) {
    event.preventDefault();
    event.stopPropagation();
    setDrawer(false);
  });
  filtersPanel.addEventListener('keydown', function (event) {
    if (!drawerOpen()) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      setDrawer(false);
      return;
    }
    if (event.key !== 'Tab') return;
    var nodes = focusables();
    if (!nodes.length) return;
    var first = nodes[0];
    var last = nodes[nodes.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && drawerOpen()) setDrawer(false);
  });
  // Focus that lands outside the open drawer (a click on the page edge) comes back into it.
  document.addEventListener('focusin', function (event) {
    if (drawerOpen() && !filtersPanel.contains(event.target)) {
      var first = focusables()[0];
      if (first) first.focus();
    }
  });
  if (phone.addEventListener) phone.addEventListener('change', syncFiltersMode);
  (function () {
    var local = storage('localStorage');
    setSidebar(!(local && local.getItem(SIDEBAR_KEY) === 'collapsed'), false);
    syncFiltersMode();
  })();

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
    for (var i = 0; i < model.n; i++) positionOf.set(model.ids[i], i);
    refreshPersonal();
    gallery.extraMs = performance.now();
    apply('none');
    restoreScroll();
  }

  (function start() {
    var counts = engine.run(core.defaultState()).counts;
    core.FACETS.forEach(function (facet) {
      var values = counts[facet.key];
      present[facet.key] = Array.prototype.map.call(values, function (count) { return count > 0; });
      libraryCounts[facet.key] = values;
    });
    buildFacetSections();
    core.FACETS.forEach(function (facet) {
      facetNodes[facet.key].any = facet.key === 'mine' || present[facet.key].some(Boolean);
    });
    present.mine = core.PERSONAL_LABELS.map(function () { return true; });
    libraryCounts.mine = null;
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
