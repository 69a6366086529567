" reloadd for Vim 8.2 or later (tested with 9.0): report each save to the project's
" daemon, and follow its events to show the dev servers' state in the status line.
"
" Save as ~/.vim/plugin/reloadd.vim (or paste into your vimrc), and put
" %{ReloaddStatusline()} in your 'statusline'. Set g:reloadd_command to the full path
" of reloadd if it is not on Vim's PATH. See reloadd's docs/editors.md.
let g:reloadd_command = get(g:, 'reloadd_command', 'reloadd')
" Sourced again, this file keeps the running follower and what it has shown.
let s:servers = get(s:, 'servers', {})
let s:follower = get(s:, 'follower', v:null)
let s:delay_ms = 1000
let s:stopping = 0
let s:text = get(s:, 'text', '')

" The dev servers' state, e.g. "web: ready, worker: crashed at app/tasks.py:12".
function! ReloaddStatusline() abort
  return s:text
endfunction

" Every dev server the daemon knows of, with its last reported state and error.
function! ReloaddServers() abort
  return deepcopy(s:servers)
endfunction

" The process id of `reloadd events`, or 0 while none runs.
function! ReloaddFollowerPid() abort
  return s:follower is v:null ? 0 : job_info(s:follower).process
endfunction

function! s:Describe(server) abort
  let l:error = get(a:server, 'error', {})
  if get(a:server, 'state', '') ==# 'crashed' && type(l:error) == v:t_dict
    if get(l:error, 'file', '') !=# ''
      let l:where = fnamemodify(l:error.file, ':~:.')
      return printf('%s: crashed at %s:%d', a:server.name, l:where, get(l:error, 'line', 0))
    endif
    return printf('%s: crashed (%s)', a:server.name, get(l:error, 'type', 'error'))
  endif
  return a:server.name . ': ' . get(a:server, 'state', 'connected')
endfunction

" The dev servers among the clients (those of role server, and any that reported a
" state), sorted by name.
function! s:Shown() abort
  let l:shown = filter(values(s:servers),
        \ "get(v:val, 'role', '') ==# 'server' || has_key(v:val, 'state')")
  return sort(l:shown, {a, b -> a.name ==# b.name ? 0 : a.name ># b.name ? 1 : -1})
endfunction

function! s:Refresh() abort
  let s:text = join(map(s:Shown(), 's:Describe(v:val)'), ', ')
  redrawstatus!
endfunction

function! s:OnLine(channel, line) abort
  try
    let l:event = json_decode(a:line)
  catch
    return
  endtry
  if type(l:event) != v:t_dict
    return
  endif
  let s:delay_ms = 1000
  " Dev servers are shown by name: a restarted process takes over its name's entry.
  let l:name = get(l:event, 'client', '')
  let l:kind = get(l:event, 'event', '')
  if l:kind ==# 'client-joined'
    let l:server = get(s:servers, l:name, {'name': l:name})
    let l:server.pid = get(l:event, 'pid', 0)
    let l:server.role = get(l:event, 'role', '')
    let s:servers[l:name] = l:server
  elseif l:kind ==# 'client-left'
    if get(get(s:servers, l:name, {}), 'pid', 0) == get(l:event, 'pid', 0)
      silent! call remove(s:servers, l:name)
    endif
  elseif l:kind ==# 'resubscribed'
    " The daemon restarted: every client it knows of follows.
    let s:servers = {}
  elseif l:kind ==# 'events-dropped'
    " This editor fell behind and missed events: follow again, for a fresh snapshot.
    call job_stop(s:follower)
    return
  elseif l:kind ==# 'state'
    let l:server = get(s:servers, l:name, {'name': l:name})
    let l:server.pid = get(l:event, 'pid', 0)
    for l:field in ['state', 'duration_ms', 'error']
      silent! call remove(l:server, l:field)
      if has_key(l:event, l:field)
        let l:server[l:field] = l:event[l:field]
      endif
    endfor
    let l:server.role = get(l:event, 'role', get(l:server, 'role', ''))
    let s:servers[l:name] = l:server
  else
    return
  endif
  call s:Refresh()
endfunction

function! s:OnExit(job, status) abort
  let s:follower = v:null
  let s:servers = {}
  call s:Refresh()
  if !s:stopping
    call timer_start(s:delay_ms, {-> s:Follow()})
    let s:delay_ms = min([s:delay_ms * 2, 30000])
  endif
endfunction

function! s:Follow() abort
  if s:stopping || s:follower isnot v:null
    return
  endif
  let l:job = job_start([g:reloadd_command, 'events', '--json'], {
        \ 'out_mode': 'nl', 'out_cb': function('s:OnLine'), 'err_io': 'null',
        \ 'in_io': 'null', 'exit_cb': function('s:OnExit')})
  if job_status(l:job) ==# 'fail'
    call s:OnExit(l:job, -1)
  else
    let s:follower = l:job
  endif
endfunction

" Tell the daemon that a:path was just written; in the background, output ignored.
function! ReloaddChanged(path) abort
  call job_start([g:reloadd_command, 'changed', '--quiet', a:path], {
        \ 'cwd': fnamemodify(a:path, ':h'), 'in_io': 'null', 'out_io': 'null',
        \ 'err_io': 'null'})
endfunction

" Stop following the daemon's events (the status line then shows nothing).
function! ReloaddStop() abort
  let s:stopping = 1
  if s:follower isnot v:null
    call job_stop(s:follower)
  endif
endfunction

function! s:Status() abort
  for l:server in s:Shown()
    let l:error = get(l:server, 'error', {})
    if type(l:error) == v:t_dict && has_key(l:error, 'message')
      echo s:Describe(l:server) . ': ' . get(l:error, 'type', '') . ': ' . l:error.message
    else
      echo s:Describe(l:server)
    endif
  endfor
endfunction
command! ReloaddStatus call <SID>Status()

augroup reloadd
  autocmd!
  autocmd BufWritePost * if &buftype ==# '' | call ReloaddChanged(expand('<afile>:p')) | endif
  autocmd VimLeavePre * call ReloaddStop()
augroup END

call s:Follow()
