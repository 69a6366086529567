(defun reloadd-changed ()
  "Tell the project's reloadd daemon that this buffer's file was just saved."
  (when (and buffer-file-name (not (file-remote-p buffer-file-name)))
    (let ((default-directory (file-name-directory buffer-file-name)))
      (start-process "reloadd-changed" nil "reloadd" "changed" "--quiet" buffer-file-name))))

(add-hook 'after-save-hook #'reloadd-changed)
